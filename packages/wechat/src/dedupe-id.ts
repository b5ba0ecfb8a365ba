import { createHash } from 'node:crypto';
import type { WechatMessage } from './messages.js';

/**
 * The id under which a push is stored once. Messages: openid + MsgId (MsgId is unique per
 * account; the openid guards against accounts that reuse it). Events have no MsgId: openid +
 * CreateTime + event (+ a hash of EventKey, which may be a URL), as the mature SDKs do; an event
 * this version does not know, + a hash of all its fields.
 * The id holds only [A-Za-z0-9_-] so it is safe as a Redis key part and a BullMQ job id.
 */
export function dedupeId(msg: WechatMessage): string {
  const from = safe(msg.fromUserName);
  if ('msgId' in msg && msg.msgId !== undefined) return `m-${from}-${msg.msgId}`;
  const event = msg.kind === 'unknown' ? `${msg.msgType}-${msg.event ?? ''}` : msg.kind === 'report' ? msg.event : msg.kind;
  const key = 'eventKey' in msg && msg.eventKey !== undefined ? `-${hash(msg.eventKey)}` : msg.kind === 'unknown' ? `-${hash(fieldsOf(msg.fields))}` : '';
  return `e-${from}-${msg.createTime}-${safe(event)}${key}`;
}

/**
 * An event this version does not know is told apart by every field it came with: two of the same
 * kind in one second (a mini program's two pages, say) are two events, and WeChat's retry of one
 * repeats its fields as they were.
 */
function fieldsOf(fields: Record<string, string>): string {
  // A compatible-mode push read without the key carries its ciphertext too, random for each retry.
  return JSON.stringify(
    Object.keys(fields)
      .filter((k) => k !== 'Encrypt')
      .sort()
      .map((k) => [k, fields[k]]),
  );
}

function hash(text: string): string {
  return createHash('sha1').update(text).digest('hex').slice(0, 12);
}

function safe(text: string): string {
  return /^[A-Za-z0-9_-]{1,64}$/.test(text) ? text : createHash('sha1').update(text).digest('hex').slice(0, 16);
}
