import { type WechatMessage, cdata, ratingOptionId } from '@wxim/wechat';

/** Builds the XML WeChat pushes for a message: the inverse of `parseMessage`, for simulators and tests. */
export function pushXml(msg: WechatMessage): string {
  const fields: [string, string | number | undefined][] = [
    ['ToUserName', msg.toUserName],
    ['FromUserName', msg.fromUserName],
    ['CreateTime', msg.createTime],
    ...specific(msg),
  ];
  const element = (k: string, v: string | number) => (typeof v === 'number' || k === 'MsgId' ? `<${k}>${v}</${k}>` : `<${k}>${cdata(v)}</${k}>`);
  // A field named `Outer.Inner` (e.g. ScanCodeInfo.ScanType) is an element within `Outer`, as WeChat nests them.
  const lines: string[] = [];
  const nested = new Map<string, string[]>();
  for (const [k, v] of fields) {
    if (v === undefined) continue;
    const dot = k.indexOf('.');
    if (dot < 0) {
      lines.push(element(k, v));
      continue;
    }
    const outer = k.slice(0, dot);
    if (!nested.has(outer)) {
      nested.set(outer, []);
      lines.push(outer);
    }
    nested.get(outer)!.push(element(k.slice(dot + 1), v));
  }
  const body = lines.map((line) => (nested.has(line) ? `<${line}>${nested.get(line)!.join('')}</${line}>` : line)).join('\n');
  return `<xml>\n${body}\n</xml>`;
}

function specific(msg: WechatMessage): [string, string | number | undefined][] {
  // MsgId is written as a bare number, as WeChat does (it is 64-bit: never through a JS number).
  const id = (): [string, string | number | undefined] => ['MsgId', 'msgId' in msg ? msg.msgId : undefined];
  switch (msg.kind) {
    case 'text':
      return [['MsgType', 'text'], ['Content', msg.content], id(), ['bizmsgmenuid', msg.menuId]];
    case 'rating':
      // A tap on a menu option: a text of the option's content, its id in bizmsgmenuid.
      return [['MsgType', 'text'], ['Content', msg.content], id(), ['bizmsgmenuid', ratingOptionId(msg.close, msg.score)]];
    case 'image':
      return [['MsgType', 'image'], ['PicUrl', msg.picUrl], ['MediaId', msg.mediaId], id()];
    case 'voice':
      return [['MsgType', 'voice'], ['MediaId', msg.mediaId], ['Format', msg.format], ['Recognition', msg.recognition], id()];
    case 'video':
    case 'shortvideo':
      return [['MsgType', msg.kind], ['MediaId', msg.mediaId], ['ThumbMediaId', msg.thumbMediaId], id()];
    case 'location':
      return [['MsgType', 'location'], ['Location_X', msg.latitude], ['Location_Y', msg.longitude], ['Scale', msg.scale], ['Label', msg.label], id()];
    case 'link':
      return [['MsgType', 'link'], ['Title', msg.title], ['Description', msg.description], ['Url', msg.url], id()];
    case 'subscribe':
      return [
        ['MsgType', 'event'],
        ['Event', 'subscribe'],
        ['EventKey', msg.eventKey],
        ['Ticket', msg.ticket],
      ];
    case 'unsubscribe':
      return [
        ['MsgType', 'event'],
        ['Event', 'unsubscribe'],
      ];
    case 'scan':
      return [
        ['MsgType', 'event'],
        ['Event', 'SCAN'],
        ['EventKey', msg.eventKey],
        ['Ticket', msg.ticket],
      ];
    case 'location_event':
      return [
        ['MsgType', 'event'],
        ['Event', 'LOCATION'],
        ['Latitude', msg.latitude],
        ['Longitude', msg.longitude],
        ['Precision', msg.precision],
      ];
    case 'click':
      return [
        ['MsgType', 'event'],
        ['Event', 'CLICK'],
        ['EventKey', msg.eventKey],
      ];
    case 'view':
      return [
        ['MsgType', 'event'],
        ['Event', 'VIEW'],
        ['EventKey', msg.eventKey],
      ];
    case 'scancode':
      return [
        ['MsgType', 'event'],
        ['Event', msg.event],
        ['EventKey', msg.eventKey],
        ['ScanCodeInfo.ScanType', msg.scanType],
        ['ScanCodeInfo.ScanResult', msg.scanResult],
      ];
    case 'report':
      return [
        ['MsgType', 'event'],
        ['Event', msg.event],
      ];
    case 'unknown': {
      const known = new Set(['ToUserName', 'FromUserName', 'CreateTime']);
      return Object.entries(msg.fields).filter(([k]) => !known.has(k));
    }
  }
}
