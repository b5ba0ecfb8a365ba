import { REPORT_EVENTS, type WechatMessage } from './messages.js';
import { OPENID } from './openid.js';
import { readRatingOption } from './rating-menu.js';
import { parseFlatXml } from './xml.js';

export class MessageError extends Error {
  override readonly name = 'MessageError';
}

function field(f: Record<string, string>, name: string): string {
  const value = f[name];
  if (value === undefined) throw new MessageError(`missing ${name}`);
  return value;
}

function optional(f: Record<string, string>, name: string): string | undefined {
  const value = f[name];
  return value === undefined || value === '' ? undefined : value;
}

function decimal(f: Record<string, string>, name: string): number {
  const text = field(f, name).trim();
  const value = Number(text);
  if (text === '' || !Number.isFinite(value)) throw new MessageError(`${name} is not a number`);
  return value;
}

/** MsgId is a 64-bit integer: validated as digits and kept as a string. */
function msgId(f: Record<string, string>): string {
  const value = field(f, 'MsgId').trim();
  if (!/^\d{1,20}$/.test(value)) throw new MessageError('MsgId is not an integer');
  return value;
}

/** Turns the fields of a decrypted push into a typed message. */
export function messageFromFields(f: Record<string, string>): WechatMessage {
  const createTime = decimal(f, 'CreateTime');
  if (!Number.isInteger(createTime) || createTime < 0) throw new MessageError('CreateTime is not a timestamp');
  const common = { toUserName: field(f, 'ToUserName'), fromUserName: field(f, 'FromUserName'), createTime };
  if (common.fromUserName === '' || common.toUserName === '') throw new MessageError('empty FromUserName or ToUserName');
  // It names the customer's keys in Redis: a ':' could name another key.
  if (!OPENID.test(common.fromUserName)) throw new MessageError('FromUserName is not an openid');
  const msgType = field(f, 'MsgType');
  switch (msgType) {
    case 'text': {
      const text = { ...common, msgId: msgId(f), content: field(f, 'Content') };
      // A tap on a menu option comes as a text carrying the option's id.
      const menuId = optional(f, 'bizmsgmenuid')?.trim();
      if (menuId === undefined || menuId === '') return { kind: 'text', ...text };
      const rating = readRatingOption(menuId);
      return rating === undefined ? { kind: 'text', ...text, menuId } : { kind: 'rating', ...text, ...rating };
    }
    case 'image':
      return { kind: 'image', ...common, msgId: msgId(f), picUrl: field(f, 'PicUrl'), mediaId: field(f, 'MediaId') };
    case 'voice': {
      const recognition = optional(f, 'Recognition');
      return {
        kind: 'voice',
        ...common,
        msgId: msgId(f),
        mediaId: field(f, 'MediaId'),
        format: f['Format'] ?? '',
        ...(recognition === undefined ? {} : { recognition }),
      };
    }
    case 'video':
    case 'shortvideo':
      return { kind: msgType, ...common, msgId: msgId(f), mediaId: field(f, 'MediaId'), thumbMediaId: f['ThumbMediaId'] ?? '' };
    case 'location':
      return {
        kind: 'location',
        ...common,
        msgId: msgId(f),
        latitude: decimal(f, 'Location_X'),
        longitude: decimal(f, 'Location_Y'),
        scale: decimal(f, 'Scale'),
        label: f['Label'] ?? '',
      };
    case 'link':
      return { kind: 'link', ...common, msgId: msgId(f), title: f['Title'] ?? '', description: f['Description'] ?? '', url: field(f, 'Url') };
    case 'event':
      return eventFromFields(f, common);
    default:
      return unknown(f, common, msgType);
  }
}

function eventFromFields(f: Record<string, string>, common: { toUserName: string; fromUserName: string; createTime: number }): WechatMessage {
  const event = field(f, 'Event');
  const eventKey = optional(f, 'EventKey');
  const ticket = optional(f, 'Ticket');
  // Event names are documented in two cases (subscribe, SCAN, CLICK); accept either.
  switch (event.toLowerCase()) {
    case 'subscribe':
      return { kind: 'subscribe', ...common, ...(eventKey === undefined ? {} : { eventKey }), ...(ticket === undefined ? {} : { ticket }) };
    case 'unsubscribe':
      return { kind: 'unsubscribe', ...common };
    case 'scan':
      return { kind: 'scan', ...common, eventKey: eventKey ?? '', ...(ticket === undefined ? {} : { ticket }) };
    case 'location':
      return { kind: 'location_event', ...common, latitude: decimal(f, 'Latitude'), longitude: decimal(f, 'Longitude'), precision: decimal(f, 'Precision') };
    case 'click':
      return { kind: 'click', ...common, eventKey: eventKey ?? '' };
    case 'view':
      return { kind: 'view', ...common, eventKey: eventKey ?? '' };
    case 'scancode_push':
    case 'scancode_waitmsg':
      return {
        kind: 'scancode',
        ...common,
        event: event.toLowerCase() as 'scancode_push' | 'scancode_waitmsg',
        eventKey: eventKey ?? '',
        scanType: f['ScanCodeInfo.ScanType'] ?? '',
        scanResult: f['ScanCodeInfo.ScanResult'] ?? '',
      };
    default:
      if (REPORT_EVENTS.has(event.toLowerCase())) return { kind: 'report', ...common, event };
      return unknown(f, common, 'event', event);
  }
}

function unknown(
  f: Record<string, string>,
  common: { toUserName: string; fromUserName: string; createTime: number },
  msgType: string,
  event?: string,
): WechatMessage {
  const id = optional(f, 'MsgId');
  return {
    kind: 'unknown',
    ...common,
    msgType,
    ...(event === undefined ? {} : { event }),
    ...(id !== undefined && /^\d{1,20}$/.test(id) ? { msgId: id } : {}),
    fields: { ...f },
  };
}

/** Parses a plaintext push document. */
export function parseMessage(xml: string): WechatMessage {
  return messageFromFields(parseFlatXml(xml));
}
