import type { Cluster, Redis } from 'ioredis';
import { relayScripts } from '@wxim/redis-scripts';

/** The value that holds a queue: the `limiter.max` its workers are given (see the worker host and QueueLayout.limiter). */
export const HOLD_MARK = Number.MAX_SAFE_INTEGER;

/** Holds every worker of the queue back for `ms` (or longer, if a longer hold is on); `limiterKey` is the queue's QueueLayout.limiter; see scripts/queue.ts. */
export function queueHold(redis: Redis | Cluster, limiterKey: string): (ms: number) => Promise<void> {
  const scripts = relayScripts(redis);
  return async (ms) => {
    await scripts.wximHoldQueue(limiterKey, String(Math.max(1, Math.round(ms))), String(HOLD_MARK));
  };
}
