import type { DefaultJobOptions } from 'bullmq';

/** Push ids stay deduplicated this long: four times WeChat's three tries within ~15 s, and short enough that the keys of a busy hour stay few. */
export const DEDUPE_TTL_MS = 60 * 1000;

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
 * Defaults for every relay job: with 60 attempts the capped backoff waits about 9 hours in all
 * before a job is failed, which outlasts any platform outage worth waiting for. Completed jobs
 * are kept an hour (at most 10,000), failed ones a week (at most 50,000): memory stays bounded.
 */
export const DEFAULT_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 60,
  backoff: { type: BACKOFF_TYPE },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 50_000 },
};
