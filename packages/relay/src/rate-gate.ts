import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import type { StateKeys } from './keys.js';

// KEYS: the window's counter. ARGV: tokens wanted, the cap. Returns how many were granted.
const LEASE = `
local n = redis.call('INCRBY', KEYS[1], tonumber(ARGV[1]))
if n == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], 2) end
local over = n - tonumber(ARGV[2])
if over <= 0 then return tonumber(ARGV[1]) end
return math.max(0, tonumber(ARGV[1]) - over)
`;

type LeaseCommand = { wximRateLease(key: string, want: number, cap: number): Promise<number> };

/**
 * A fleet-wide cap on calls per second, per scope (IM allows 200 sendmsg/s and 200 imports/s per
 * app). Every worker takes tokens from a counter per one-second window in Redis, a few at a time
 * (one round trip for several calls); a call that finds the window spent waits for the next one.
 */
export class RateGate {
  private readonly redis: LeaseCommand;
  private readonly lease: number;
  private readonly held = new Map<string, { second: number; tokens: number }>();

  constructor(
    redis: Redis | Cluster,
    private readonly keys: StateKeys,
    private readonly perSecond: number,
  ) {
    if (!('wximRateLease' in redis)) redis.defineCommand('wximRateLease', { numberOfKeys: 1, lua: LEASE });
    this.redis = redis as unknown as LeaseCommand;
    // Small leases keep a worker from holding back much of a second's budget from the others.
    this.lease = Math.max(1, Math.min(20, Math.floor(perSecond / 20)));
  }

  async acquire(scope: string): Promise<void> {
    for (;;) {
      const now = Date.now();
      const second = Math.floor(now / 1000);
      const held = this.held.get(scope);
      if (held !== undefined && held.second === second && held.tokens > 0) {
        held.tokens--;
        return;
      }
      const granted = await this.redis.wximRateLease(this.keys.imRate(scope, second), this.lease, this.perSecond);
      if (granted > 0) {
        this.held.set(scope, { second, tokens: granted - 1 });
        return;
      }
      await sleep((second + 1) * 1000 - now + Math.floor(Math.random() * 20));
    }
  }
}
