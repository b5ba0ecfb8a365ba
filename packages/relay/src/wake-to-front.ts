import type { Cluster, Redis } from 'ioredis';
import { relayScripts } from '@wxim/redis-scripts';

/** A BullMQ queue's keys by type (Queue#keys), e.g. `delayed`, `wait`, and '' for the job key prefix. */
export interface QueueKeys {
  keys: Partial<Record<string, string>>;
}

/** Moves a delayed job of `queue` to the front of its wait list (see scripts/queue.ts); false if it was not delayed. */
export function wakeToFront(redis: Redis | Cluster, queue: QueueKeys): (jobId: string) => Promise<boolean> {
  const scripts = relayScripts(redis);
  const k = queue.keys;
  return async (jobId) => (await scripts.wximWakeToFront(k['delayed']!, k['wait']!, k['meta']!, k['active']!, k['marker']!, k['events']!, k['']!, jobId)) === 0;
}
