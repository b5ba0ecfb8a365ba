import type { KeyInUse, MessageCipher } from './message-cipher.js';
import { msgSignature } from './signature.js';
import { cdata } from './xml.js';

export interface TextReply {
  /** The customer's openid. */
  toUserName: string;
  /** The Official Account's original id (gh_…). */
  fromUserName: string;
  content: string;
  /** Seconds since the epoch. */
  createTime: number;
}

/** A passive text reply: the push's names swapped, CreateTime in seconds. */
export function buildTextReply(r: TextReply): string {
  return (
    `<xml><ToUserName>${cdata(r.toUserName)}</ToUserName><FromUserName>${cdata(r.fromUserName)}</FromUserName>` +
    `<CreateTime>${r.createTime}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>${cdata(r.content)}</Content></xml>`
  );
}

/** The safe-mode envelope of a passive reply, in the key the push came in; TimeStamp is in seconds, as a string. */
export function buildEncryptedReply(
  cipher: MessageCipher,
  token: string,
  replyXml: string,
  timestamp: string,
  nonce: string,
  key: KeyInUse = 'current',
): string {
  const encrypt = cipher.encrypt(replyXml, undefined, key);
  const signature = msgSignature(token, timestamp, nonce, encrypt);
  return (
    `<xml><Encrypt>${cdata(encrypt)}</Encrypt><MsgSignature>${cdata(signature)}</MsgSignature>` +
    `<TimeStamp>${timestamp}</TimeStamp><Nonce>${cdata(nonce)}</Nonce></xml>`
  );
}
