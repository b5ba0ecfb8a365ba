import type { Cluster, Redis } from 'ioredis';
import { type QueueLayout, jobKey } from '@wxim/queue';
import { relayScripts } from '@wxim/redis-scripts';

/** Moves a delayed job of the queue laid out as `queue` to the front of its wait list (see scripts/queue.ts); false if it was not delayed. */
export function wakeToFront(redis: Redis | Cluster, queue: QueueLayout): (jobId: string) => Promise<boolean> {
  const scripts = relayScripts(redis);
  const { delayed, wait, meta, active, marker, events } = queue;
  return async (jobId) => (await scripts.wximWakeToFront(delayed, wait, meta, active, marker, events, jobKey(queue.jobs, jobId), jobId)) === 0;
}
