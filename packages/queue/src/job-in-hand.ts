import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { queueClient } from './bullmq-layout.js';

/**
 * How long a hand holds a job at most: far longer than a removal or a retry takes, short enough
 * that a dashboard or CLI that died holding one frees it soon.
 */
export const HAND_MS = 30_000;

/**
 * The key a retry or removal by hand holds on a job while it works on it: `<prefix>:<queue>:hand:<id>`
 * (beside BullMQ's `de:<id>`; no job id of the relay starts with `hand:`).
 */
export function handKey(jobKeyPrefix: string, id: string): string {
  return `${jobKeyPrefix}hand:${id}`;
}

/** Deletes the key only while it still holds this hand's token (an expired hold may be another's now). */
const LET_GO = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/**
 * Runs `work` holding the job, or resolves to undefined at once when another hand holds it.
 *
 * A removal by hand reads the job's state and then removes it: BullMQ's removal takes a job in any
 * state, so a retry (the dashboard's, or `retry-failed`) landing between the two would have its job,
 * now waiting to be sent again, removed, and its message lost. Both hold the job while they work,
 * and the second hand is turned away (a removal does not remove, a retry names the job as skipped)
 * rather than acting on a state read before the first hand changed it.
 */
export async function withJobInHand<T>(queue: Queue, id: string, work: () => Promise<T>): Promise<T | undefined> {
  const client = await queueClient(queue);
  const key = handKey(queue.toKey(''), id);
  const token = randomUUID();
  if ((await client.set(key, token, 'PX', HAND_MS, 'NX')) === null) return undefined;
  try {
    return await work();
  } finally {
    await client.eval(LET_GO, 1, key, token).catch(() => undefined);
  }
}
