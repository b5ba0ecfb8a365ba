import type { ReplyJob } from '@wxim/queue';
import type { ReplyWindow, StateKeys } from '@wxim/state';
import { WechatApiError, type WechatApi } from '@wxim/wechat';
import type { Job } from 'bullmq';
import type { Redis, Cluster } from 'ioredis';
import { relayScripts } from '@wxim/redis-scripts';

/** WeChat shows "typing…" only within 30 s of the customer's message (45080 otherwise). */
export const TYPING_AFTER_MS = 30_000;
/** How long WeChat shows it at most; asked again meanwhile it answers 45081. A message sent ends it. */
export const TYPING_SHOWN_MS = 15_000;

/**
 * The typing mark's value after a reply part went (`sent:<ms>`): WeChat shows nothing then, and a
 * typing signal the agent gave before that moment is stale (see relayTyping). Any other value is
 * the time an indicator was shown, and the typing job that showed it (`<ms>:<job id>`).
 */
export const SENT_PREFIX = 'sent:';

/** What the typing mark holds once a reply part went, the relay having taken the reply from IM at `atMs` (set by the delivery, for TYPING_SHOWN_MS). */
export function sentMark(atMs: number): string {
  return `${SENT_PREFIX}${atMs}`;
}

export type TypingOutcome =
  | 'shown'
  | 'cancelled'
  /** typing-stop while nothing is shown: nothing to cancel. */
  | 'not_shown'
  /** The customer's last message is older than 30 s (or the agent typed so long ago the indicator would be over). */
  | 'window'
  | 'already_shown'
  /** The agent typed before a reply that has gone since (the signal ran late): showing it now would outlast the reply. */
  | 'after_reply'
  /** The fleet's WeChat pace had no room now: skipped rather than waited for. */
  | 'no_room'
  /** WeChat refused it (its errcode logged). */
  | 'refused'
  /** No answer from WeChat: not tried again. */
  | 'error';

export interface TypingDeps {
  redis: Redis | Cluster;
  keys: Pick<StateKeys, 'typingShown'>;
  wechat: Pick<WechatApi, 'typing'>;
  window: Pick<ReplyWindow, 'check'>;
  /** A turn under the fleet's WeChat pace only if there is room now (RateGate.tryAcquire). */
  tryTurn: (api: string) => Promise<boolean>;
  log: { debug(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

/**
 * An agent's typing, shown to the customer through WeChat's custom/typing within WeChat's rules:
 * only within 30 s of the customer's last message, not asked again while shown (a short mark in
 * Redis, cleared when a reply part is sent, as WeChat ends the indicator then), cancelled on
 * typing-stop only when shown. One attempt, never retried, never waited for: it is a nicety, and
 * neither a reply's turn nor WeChat's quota is spent on it (custom/typing is not a message).
 */
export async function relayTyping(job: Job<ReplyJob>, deps: TypingDeps): Promise<TypingOutcome> {
  const { openid, signal, acceptedAt } = job.data;
  const mark = deps.keys.typingShown(openid);
  const now = Date.now();
  const held = await deps.redis.get(mark);
  const sentAt = held?.startsWith(SENT_PREFIX) ? Number(held.slice(SENT_PREFIX.length)) : undefined;
  if (signal === 'typing-stop') {
    // Only a shown indicator is cancelled: the mark goes first, so a typing after this shows again;
    // only if it is still the one read (a reply part sent meanwhile left its own, which must stay).
    if (held === null || sentAt !== undefined || (await relayScripts(deps.redis).wximLockRelease(mark, held)) === 0) return 'not_shown';
    return call(job, deps, 'CancelTyping', 'cancelled');
  }
  // Signals run beside replies, not in their line: a typing that began before the reply that
  // went since would show "typing…" after the answer, for up to 15 s.
  if (sentAt !== undefined && acceptedAt <= sentAt) return 'after_reply';
  // A typing job that waited past the indicator's own life (a backlog) shows nothing useful any more.
  if (now - acceptedAt > TYPING_SHOWN_MS) return 'window';
  const window = await deps.window.check(openid, now);
  if (!window.open || now - window.lastActionAt > TYPING_AFTER_MS) return 'window';
  // Over a reply's mark (the agent typing again after it), else only when nothing is shown. The
  // value names this job, so that only its own mark is taken back below.
  const own = `${now}:${job.id}`;
  const taken = sentAt !== undefined ? await deps.redis.set(mark, own, 'PX', TYPING_SHOWN_MS) : await deps.redis.set(mark, own, 'PX', TYPING_SHOWN_MS, 'NX');
  if (taken === null) return 'already_shown';
  const outcome = await call(job, deps, 'Typing', 'shown');
  // Not shown after all: the next typing may try again (45081 says it is shown: the mark stays).
  // Only if the mark is still this job's: a reply part sent meanwhile left its own, which must stay.
  if (outcome !== 'shown' && outcome !== 'already_shown') await relayScripts(deps.redis).wximLockRelease(mark, own);
  return outcome;
}

async function call(job: Job<ReplyJob>, deps: TypingDeps, command: 'Typing' | 'CancelTyping', done: TypingOutcome): Promise<TypingOutcome> {
  const fields = { jobId: job.id, agent: job.data.agent, command };
  try {
    const sent = await deps.wechat.typing(job.data.openid, command, { beforeSend: (api) => deps.tryTurn(api) });
    return sent ? done : 'no_room';
  } catch (err) {
    if (err instanceof WechatApiError && err.code === 45081) return 'already_shown';
    if (err instanceof WechatApiError && err.code === 45080) return 'window';
    if (err instanceof WechatApiError && err.code !== 0) {
      deps.log.info({ ...fields, code: err.code }, 'WeChat refused the typing indicator; not tried again');
      return 'refused';
    }
    deps.log.info({ ...fields, reason: (err as Error).message }, 'the typing indicator did not reach WeChat; not tried again');
    return 'error';
  }
}
