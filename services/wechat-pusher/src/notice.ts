import { createHash } from 'node:crypto';
import { ImNotImportedError } from '@wxim/im';
import { reasonOf } from '@wxim/wechat';

/** Why a reply was not delivered, as the pusher records it. */
export type Undelivered =
  | { kind: 'wechat'; code: number }
  | { kind: 'window'; reason: 'window_closed' | 'quota_used' | 'never' }
  | { kind: 'uncertain' }
  | { kind: 'media'; reason: string }
  /** Retried until its attempts ran out (WeChat unreachable, the account misconfigured, …). */
  | { kind: 'gave_up'; reason: string };

const WINDOW_REASONS = {
  window_closed: "the customer's 48-hour window has closed (WeChat lets the account reply only after the customer writes)",
  quota_used: 'the replies this window allows are used up; the customer has to write again first',
  never: 'the customer has not written yet, so WeChat does not let the account reply',
} as const;

/** The reason in plain words, for the agent. */
export function reasonText(why: Undelivered): string {
  switch (why.kind) {
    case 'wechat':
      return reasonOf(why.code);
    case 'window':
      return WINDOW_REASONS[why.reason];
    case 'uncertain':
      return 'WeChat did not answer in time, so it may or may not have arrived; check with the customer before sending it again';
    case 'media':
    case 'gave_up':
      return why.reason;
  }
}

/**
 * Which part of a reply in several did not arrive, and what that means for the others: the parts
 * before it were delivered, the parts after it were not sent. Empty when its first part was
 * refused (none of it went: the reply as a whole was not delivered); a first part WeChat did not
 * answer may have arrived, so the parts after it, which never will, are named.
 */
function whichPart(why: Undelivered, part: { index: number; of: number } | undefined): string {
  if (part === undefined || part.of <= 1 || (part.index === 0 && why.kind !== 'uncertain')) return '';
  const after = part.of - part.index - 1;
  const others = [
    ...(part.index > 0 ? ['the parts before it were delivered'] : []),
    ...(after === 1 ? ['the part after it was not sent'] : after > 1 ? [`the ${after} parts after it were not sent`] : []),
  ];
  return `part ${part.index + 1} of ${part.of} (${others.join('; ')})`;
}

/**
 * The text of a relay notice: plainly the relay's, not the customer's words, quoting the start of
 * the reply and saying why it did not arrive (and which part, when it went in several).
 */
export function noticeText(quote: string, why: Undelivered, part?: { index: number; of: number }): string {
  const which = whichPart(why, part);
  const verb = why.kind === 'uncertain' ? 'may not have been delivered' : 'was not delivered';
  return `⚠ Relay notice — your reply “${quote}”${which === '' ? '' : `, ${which},`} ${verb}: ${reasonText(why)}.`;
}

/** The reason a reply's delivery mark gives: the notice's, and which part when it went in several. */
export function markReason(why: Undelivered, part?: { index: number; of: number }): string {
  const which = whichPart(why, part);
  return `${which === '' ? '' : `${which}: `}${reasonText(why)}`;
}

/** A notice's MsgSeq and MsgRandom, fixed per reply so that IM drops a notice sent twice. */
export function noticeIds(jobId: string): { msgSeq: number; msgRandom: number } {
  const digest = createHash('sha256').update(`notice:${jobId}`).digest();
  return { msgSeq: digest.readUInt32BE(0) & 0x7fffffff, msgRandom: digest.readUInt32BE(4) };
}

/**
 * Sends a relay notice in a customer's conversation. IM refusing it because an account of the
 * conversation is gone (the customer deleted on their unfollow, an agent removed) is logged, and
 * resolves: there is nobody left to tell there, and trying again would hold the customer's reply
 * line for hours (a notice quoting a stale reply, then delivered first should they follow again).
 * Resolves to whether it was sent.
 */
export async function sendNotice(
  send: () => Promise<unknown>,
  log: { warn(obj: object, msg: string): void },
  fields: Record<string, unknown>,
): Promise<boolean> {
  try {
    await send();
    return true;
  } catch (err) {
    if (!(err instanceof ImNotImportedError)) throw err;
    log.warn({ ...fields, code: err.code }, "a relay notice is not sent: an account of the customer's conversation is gone from IM");
    return false;
  }
}
