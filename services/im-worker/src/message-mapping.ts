import { type MsgElement, encodeRelayCustomData, imageElem, locationElem, textElem } from '@wxim/im';
import { type WechatMessage, emojiToUnicode, isRelayed } from '@wxim/wechat';

/**
 * What an agent sees for each WeChat push: the IM elements to send from the customer, or null for
 * the pushes that are not relayed (KIND_RULES: LOCATION reports, VIEW menu jumps, reports on the
 * business's own template messages, mass sends and publications). Anything else — including a
 * type this version does not know — reaches the agent, at least as a note naming it. `media` is a
 * voice's or video's element the agent can open (see CustomerMedia); without it they are notes.
 */
export function toImBody(message: WechatMessage, media?: MsgElement): MsgElement[] | null {
  if (!isRelayed(message)) return null;
  switch (message.kind) {
    case 'text':
      // WeChat's faces arrive as codes (`/::)`, `[Smile]`): the agent's IM client shows emoji.
      return [textElem(emojiToUnicode(message.content))];
    case 'image':
      return [imageElem(message.mediaId, message.picUrl)];
    case 'location':
      return [locationElem(message.label, message.latitude, message.longitude)];
    case 'link':
      return [textElem([message.title, message.description, message.url].filter((s) => s !== '').join('\n'))];
    case 'voice': {
      // WeChat's recognition, where the account has it on, beside the recording.
      const heard = message.recognition === undefined ? undefined : `[voice] ${emojiToUnicode(message.recognition)}`;
      if (media !== undefined) return [media, ...(heard !== undefined ? [textElem(heard)] : [])];
      return [
        textElem(
          heard !== undefined
            ? heard
            : `[voice message: media id ${message.mediaId}${message.format ? `, ${message.format}` : ''}; the recording could not be relayed]`,
        ),
      ];
    }
    case 'video':
    case 'shortvideo':
      if (media !== undefined) return [media];
      return [textElem(`[${message.kind === 'video' ? 'video' : 'short video'} message: media id ${message.mediaId}; the video could not be relayed]`)];
    case 'subscribe': {
      const scene = message.eventKey?.startsWith('qrscene_') ? ` (QR code scene ${message.eventKey.slice('qrscene_'.length)})` : '';
      return [textElem(`[followed the Official Account${scene}]`)];
    }
    case 'unsubscribe':
      return [textElem('[unfollowed the Official Account]')];
    case 'scan':
      return [textElem(`[scanned QR code scene ${message.eventKey}]`)];
    case 'click':
      return [textElem(`[tapped menu item ${message.eventKey}]`)];
    case 'scancode':
      // What was scanned is the customer's words here: `scancode_waitmsg` waits for the answer.
      return [
        textElem(
          `[scanned a ${message.scanType || 'code'} with menu item ${message.eventKey}${message.event === 'scancode_waitmsg' ? ', waiting for your answer' : ''}] ${message.scanResult}`,
        ),
      ];
    case 'unknown':
      return [textElem(`[WeChat ${message.msgType}${message.event ? ` event ${message.event}` : ''} message, which the relay does not support yet]`)];
  }
}

/** The WeChat context agent tools get in CloudCustomData; it also marks the message as the relay's. */
export function cloudCustomData(message: WechatMessage): string {
  return encodeRelayCustomData({
    source: 'wechat',
    openid: message.fromUserName,
    type: message.kind === 'unknown' ? message.msgType : message.kind,
    ...('msgId' in message && message.msgId !== undefined ? { msgId: message.msgId } : {}),
    createTime: message.createTime,
  });
}
