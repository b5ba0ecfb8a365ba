import { ImCredentialError, ImError, ImPermanentError, ImRateLimitedError } from '@wxim/im';
import { LockLostError } from '@wxim/relay';
import { RateLimitError, UnrecoverableError } from 'bullmq';

export type Decision =
  /** Retry later with backoff (an attempt is spent). */
  | { action: 'retry'; class: string }
  /** Hold the whole queue back for a while; the job goes back to wait without spending an attempt. */
  | { action: 'slow_down'; class: string; ms: number }
  /** Fail the job now; its reason shows on the dashboard. */
  | { action: 'fail'; class: string; reason: string }
  /** The job is another worker's now: touch nothing (BullMQ refuses to finish a job whose lock is gone). */
  | { action: 'give_up'; class: 'lock_lost' };

/**
 * Every error of a relay, turned into what BullMQ should do, in one place. IM's own classes map
 * directly; configuration errors (a wrong key, admin or app id) keep retrying with backoff so the
 * backlog flows again once an operator fixes the configuration; anything else (Redis, a bug) is
 * retried as transient.
 */
export function decide(err: unknown): Decision {
  if (err instanceof LockLostError) return { action: 'give_up', class: 'lock_lost' };
  if (err instanceof ImRateLimitedError) return { action: 'slow_down', class: 'rate_limited', ms: err.retryAfterMs };
  if (err instanceof ImPermanentError) return { action: 'fail', class: 'permanent', reason: err.message };
  if (err instanceof ImCredentialError) return { action: 'retry', class: err.renewable ? 'credential' : 'configuration' };
  if (err instanceof ImError) return { action: 'retry', class: err.kind };
  return { action: 'retry', class: 'internal' };
}

/** The error to throw from the processor for a decision: BullMQ's own classes where they apply. */
export function errorFor(decision: Decision, err: unknown): Error {
  if (decision.action === 'fail') return new UnrecoverableError(decision.reason);
  if (decision.action === 'slow_down') return new RateLimitError();
  return err instanceof Error ? err : new Error(String(err));
}
