import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import type { StateKeys } from './keys.js';

/**
 * A fleet-wide cap on calls per second, per scope (IM allows 200 sendmsg/s and 200 imports/s per
 * app): a counter per one-second window in Redis shared by every worker. A call over the cap
 * waits for the next window.
 */
export class RateGate {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: StateKeys,
    private readonly perSecond: number,
  ) {}

  async acquire(scope: string): Promise<void> {
    for (;;) {
      const now = Date.now();
      const second = Math.floor(now / 1000);
      const key = this.keys.imRate(scope, second);
      const [[, count]] = (await this.redis.multi().incr(key).expire(key, 2).exec()) as [[Error | null, number]];
      if (count <= this.perSecond) return;
      await sleep((second + 1) * 1000 - now + Math.floor(Math.random() * 20));
    }
  }
}
