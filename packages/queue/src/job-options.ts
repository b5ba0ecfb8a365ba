import { MAX_CLOCK_SKEW_SECONDS } from '@wxim/wechat';
import type { DefaultJobOptions } from 'bullmq';

/**
 * WeChat tries a push again up to three times within about 15 s (at once after an error answer,
 * possibly with the same timestamp and nonce); and another gateway,
 * whose clock may differ from this one's, may be the one a replay reaches. Two minutes cover both
 * (gateways' clocks kept within a minute and a half of each other).
 */
export const GATEWAY_CLOCK_MARGIN_S = 120;

/**
 * How long a push's id stays deduplicated, whatever job retention does: until neither a replay of
 * the signed request that brought it (accepted while its timestamp is within 5 minutes of a
 * gateway's clock) nor one of WeChat's own retries can pass the gateway's checks any more; at
 * least a minute. Computed per push from its signed timestamp: the sender's clock may be up to 5 minutes
 * off ours either way, so a fixed time would have to be twice as long for every push.
 */
export function dedupeTtlMs(signedAtSeconds: number, nowMs: number): number {
  return Math.max(60_000, (signedAtSeconds + MAX_CLOCK_SKEW_SECONDS + GATEWAY_CLOCK_MARGIN_S) * 1000 - nowMs);
}

export const BACKOFF_TYPE = 'capped-exponential';
const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 10 * 60 * 1000;

/**
 * Exponential backoff from 1 s, capped at 10 minutes, with ±25% jitter so that jobs failed by
 * one outage do not come back in step. Workers register it as their `backoffStrategy`.
 */
export function cappedExponentialBackoff(attemptsMade: number, random: () => number = Math.random, baseMs = BASE_DELAY_MS): number {
  const base = Math.min(baseMs * 2 ** Math.max(0, attemptsMade - 1), MAX_DELAY_MS);
  return Math.round(base * (0.75 + random() * 0.5));
}

/**
 * How long a failed job is kept (BullMQ's removeOnFail age), which is also as long as it may be
 * retried by hand: what a job did (a reply's parts sent, a message's relay ids) is kept a day
 * longer (PROGRESS_TTL_S, RELAY_IDS_TTL_S), so a retry never sends again what went. BullMQ trims
 * the failed jobs past this age only when another job of the queue fails: in a quiet queue a job
 * stays longer, and retryFailedJobs refuses it.
 */
export const FAILED_KEPT_MS = 7 * 24 * 3600 * 1000;

/**
 * Defaults for every relay job: with 60 attempts the capped backoff waits about 9 hours in all
 * before a job is failed, which outlasts any platform outage worth waiting for. Completed jobs
 * are kept an hour (at most 10,000), failed ones a week (at most 50,000): memory stays bounded.
 */
export const DEFAULT_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 60,
  backoff: { type: BACKOFF_TYPE },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: FAILED_KEPT_MS / 1000, count: 50_000 },
};
