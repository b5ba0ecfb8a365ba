import { ImCredentialError, ImError, ImPermanentError, ImRateLimitedError } from '@wxim/im';
import { LockLostError, NotOnReplicas } from '@wxim/state';
import { QUOTA_LOOK_AGAIN_MS, QUOTA_SPREAD, WechatApiError, WechatCredentialError, WechatRateLimitedError } from '@wxim/wechat';
import { DelayedError, RateLimitError, UnrecoverableError } from 'bullmq';

export type Decision =
  /** Retry later with backoff (an attempt is spent). */
  | { action: 'retry'; class: string }
  /** Hold the whole queue back for a while; the job goes back to wait without spending an attempt. */
  | { action: 'slow_down'; class: string; ms: number }
  /** This job waits for a while without spending an attempt; the queue's other jobs go on. */
  | { action: 'wait'; class: string; ms: number }
  /** Fail the job now; its reason shows on the dashboard. */
  | { action: 'fail'; class: string; reason: string }
  /** The job is another worker's now: touch nothing (BullMQ refuses to finish a job whose lock is gone). */
  | { action: 'give_up'; class: 'lock_lost' };

/**
 * Every error a worker's job meets, turned into what BullMQ should do, in one place for every
 * worker. The platforms' own classes map directly: "too many requests" holds the queue (a WeChat
 * API's daily quota used up holds only the job that met it: the queue's other jobs may call other
 * APIs, or none; see DailyQuotas for how the API is held), IM's
 * permanent refusals fail the job, the rest retries with backoff — configuration errors too (a
 * wrong key, secret, admin or app id), so the backlog flows again once an operator fixes the
 * configuration; a service's own passing error that names its class (RetryClassed) is retried under
 * it; anything else (Redis, a bug) is retried as internal. What WeChat refuses for good
 * never reaches here: the pusher turns it into a notice to the agent.
 */
/**
 * BullMQ's own word that the job's lock is no longer this worker's (its moveToDelayed, moveToFailed
 * or moveToCompleted with a token: "Missing lock for job …", "Lock mismatch for job …"): another
 * worker has the job, as with LockLostError.
 */
function lockLostInBullmq(err: unknown): boolean {
  return err instanceof Error && /^(Missing lock|Lock mismatch) for job /.test(err.message);
}

export function decide(err: unknown): Decision {
  if (err instanceof LockLostError || lockLostInBullmq(err)) return { action: 'give_up', class: 'lock_lost' };
  // Not sent: the replicas do not hold the job yet (a failover, a replica behind). Tried again later.
  if (err instanceof NotOnReplicas) return { action: 'retry', class: 'replicas' };
  // At most the client's look again and its spread (an access_token fetch over its quota too: an
  // operator's clear_quota cures it before midnight). The spread is kept: the waiting replies come
  // back one after another, not all in the same millisecond (see DailyQuotas).
  if (err instanceof WechatRateLimitedError && err.dailyQuota)
    return { action: 'wait', class: 'daily_quota', ms: Math.min(err.retryAfterMs, QUOTA_LOOK_AGAIN_MS * (1 + QUOTA_SPREAD)) };
  if (err instanceof ImRateLimitedError || err instanceof WechatRateLimitedError) return { action: 'slow_down', class: 'rate_limited', ms: err.retryAfterMs };
  if (err instanceof ImPermanentError) return { action: 'fail', class: 'permanent', reason: err.message };
  if (err instanceof ImCredentialError || err instanceof WechatCredentialError)
    return { action: 'retry', class: err.renewable ? 'credential' : 'configuration' };
  if (err instanceof ImError || err instanceof WechatApiError) return { action: 'retry', class: err.kind };
  // A service's own error that passes, and says what it is (e.g. ffmpeg killed: `transcode`), and
  // perhaps how long its job waits instead (e.g. a download's minute limit: `rate_limited`).
  const classed = err instanceof Error ? (err as Error & Partial<RetryClassed>) : undefined;
  if (typeof classed?.retryClass === 'string')
    return typeof classed.waitMs === 'number'
      ? { action: 'wait', class: classed.retryClass, ms: classed.waitMs }
      : { action: 'retry', class: classed.retryClass };
  return { action: 'retry', class: 'internal' };
}

/**
 * An error of a service's own that is worth retrying, counted under its own class rather than
 * `internal`; with `waitMs`, its job waits that long at the head of its line instead (no attempt
 * spent, the queue's other jobs go on).
 */
export interface RetryClassed {
  readonly retryClass: string;
  readonly waitMs?: number;
}

/** The error to throw from a processor for a decision: BullMQ's own classes where they apply. */
export function errorFor(decision: Decision, err: unknown): Error {
  if (decision.action === 'fail') return new UnrecoverableError(decision.reason);
  if (decision.action === 'slow_down') return new RateLimitError();
  if (decision.action === 'wait') return new DelayedError();
  return err instanceof Error ? err : new Error(String(err));
}
