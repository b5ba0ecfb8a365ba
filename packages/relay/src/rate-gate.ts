import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import type { StateKeys } from './keys.js';

// KEYS: the window's counter. One round trip: count the call, and let the window expire.
const COUNT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], 2) end
return n
`;

/**
 * A fleet-wide cap on calls per second, per scope (IM allows 200 sendmsg/s and 200 imports/s per
 * app): a counter per one-second window in Redis shared by every worker. A call over the cap
 * waits for the next window.
 */
export class RateGate {
  private readonly redis: { wximRateCount(key: string): Promise<number> };

  constructor(
    redis: Redis | Cluster,
    private readonly keys: StateKeys,
    private readonly perSecond: number,
  ) {
    if (!('wximRateCount' in redis)) redis.defineCommand('wximRateCount', { numberOfKeys: 1, lua: COUNT });
    this.redis = redis as unknown as { wximRateCount(key: string): Promise<number> };
  }

  async acquire(scope: string): Promise<void> {
    for (;;) {
      const now = Date.now();
      const second = Math.floor(now / 1000);
      const key = this.keys.imRate(scope, second);
      const count = await this.redis.wximRateCount(key);
      if (count <= this.perSecond) return;
      await sleep((second + 1) * 1000 - now + Math.floor(Math.random() * 20));
    }
  }
}
