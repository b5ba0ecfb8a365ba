import type { RedisClient } from '@wxim/queue';

// KEYS: the queue's rate-limiter key. ARGV: hold (ms), the value that marks a hold. BullMQ counts
// jobs in this key and reads a value at its limiter's max as "held" until the key expires.
// worker.rateLimit() sets it outright; this only lengthens a hold, so a 1 s "slow down" from one
// IM call cannot cut short the minute another asked for.
const HOLD = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[2]) or redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
end
return redis.call('PTTL', KEYS[1])
`;

/** The value that holds a queue: the `limiter.max` workers are given (see createImWorker). */
export const HOLD_MARK = Number.MAX_SAFE_INTEGER;

type HoldCommand = { wximHoldQueue(limiterKey: string, ms: string, mark: string): Promise<number> };

/** Holds every worker of the queue back for `ms` (or longer, if a longer hold is on). */
export function queueHold(redis: RedisClient, limiterKey: string): (ms: number) => Promise<void> {
  if (!('wximHoldQueue' in redis)) redis.defineCommand('wximHoldQueue', { numberOfKeys: 1, lua: HOLD });
  const r = redis as unknown as HoldCommand;
  return async (ms) => {
    await r.wximHoldQueue(limiterKey, String(Math.max(1, Math.round(ms))), String(HOLD_MARK));
  };
}
