import { ImError, ImPermanentError, ImRateLimitedError } from '@wxim/im';
import { LockLostError } from '@wxim/relay';
import { WechatApiError, WechatRateLimitedError } from '@wxim/wechat';
import { RateLimitError, UnrecoverableError } from 'bullmq';

export type Decision =
  | { action: 'retry'; class: string }
  | { action: 'slow_down'; class: string; ms: number }
  | { action: 'fail'; class: string; reason: string }
  | { action: 'give_up'; class: 'lock_lost' };

/**
 * The pusher's errors, turned into what BullMQ should do, in one place. What WeChat refuses for
 * good never reaches here (the agent gets a notice, see the processor); what does: WeChat or IM
 * unreachable or busy (retry with backoff), "too many calls" (hold the queue), a notice IM
 * refuses for good (fail, visibly), a lost lock (touch nothing).
 */
export function decide(err: unknown): Decision {
  if (err instanceof LockLostError) return { action: 'give_up', class: 'lock_lost' };
  if (err instanceof ImRateLimitedError) return { action: 'slow_down', class: 'rate_limited', ms: err.retryAfterMs };
  // 45011: per-minute frequency; 45009: the day's quota (its counter resets at midnight, Beijing time).
  if (err instanceof WechatRateLimitedError) return { action: 'slow_down', class: 'rate_limited', ms: err.code === 45009 ? 10 * 60_000 : 60_000 };
  if (err instanceof ImPermanentError) return { action: 'fail', class: 'permanent', reason: `the notice could not be sent: ${err.message}` };
  if (err instanceof WechatApiError || err instanceof ImError) return { action: 'retry', class: err.kind };
  return { action: 'retry', class: 'internal' };
}

export function errorFor(decision: Decision, err: unknown): Error {
  if (decision.action === 'fail') return new UnrecoverableError(decision.reason);
  if (decision.action === 'slow_down') return new RateLimitError();
  return err instanceof Error ? err : new Error(String(err));
}
