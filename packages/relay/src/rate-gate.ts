import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import type { StateKeys } from './keys.js';
import { LockLostError } from './lock-lost-error.js';

// KEYS: the scope's pace key, its window (a sorted set of the calls started in the last second),
// the job's lock. ARGV: the interval between calls (µs), the cap per second, the lock's token (''
// for a call outside a job), the lock's duration (ms), a member unique to this call, and 'take'
// (a call asking) or 'start' (a call whose reserved slot has come).
//
// Times are whole microseconds of Redis's clock (TIME), so every worker counts the same seconds
// whatever its own clock says; they are written with %.0f (Lua's own number format keeps 14
// digits, too few for them).
//
// First, the job's lock must still be ours ({-1} otherwise); a lock running short is renewed, as
// BullMQ's own renewal would. Then the pace: the pace key holds when the next call may start (a
// GCRA), so calls are spaced one interval apart, never bunched at the start of a second; and the
// window holds the hard cap, at most `cap` calls started in any second. A call that may start now
// is recorded and told {0, now}; otherwise it is given the next free slot and told how long to
// wait ({µs, now}), after which it asks again with 'start'.
//
// The pace's own keys are not written to the AOF or replicas (REPL_NONE): they matter for a second
// at most, and with appendfsync always every write makes its reply wait for a disk sync. A lock
// renewal is replicated as usual.
const PACE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if ARGV[3] ~= '' then
  if redis.call('GET', KEYS[3]) ~= ARGV[3] then return {-1, now} end
  if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[4]) / 2 then redis.call('PEXPIRE', KEYS[3], ARGV[4]) end
end
redis.set_repl(redis.REPL_NONE)
local interval = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.0f', now - 1000000))
local freeAt = now
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  freeAt = tonumber(redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2]) + 1000000
end
local nextFree = tonumber(redis.call('GET', KEYS[1]) or '0')
local function advance(from)
  local after = from + interval
  redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX', math.ceil((after - now) / 1000) + 1000)
end
if ARGV[6] == 'take' and nextFree > now then
  local slot = math.max(nextFree, freeAt)
  advance(slot)
  return {slot - now, now}
end
if freeAt > now then
  if ARGV[6] == 'take' then advance(math.max(nextFree, freeAt)) end
  return {freeAt - now, now}
end
if ARGV[6] == 'take' then advance(now) end
redis.call('ZADD', KEYS[2], string.format('%.0f', now), ARGV[5])
redis.call('PEXPIRE', KEYS[2], 2000)
return {0, now}
`;

type PaceCommand = {
  wximPace(
    pace: string,
    window: string,
    lock: string,
    intervalUs: number,
    cap: number,
    token: string,
    lockMs: number,
    member: string,
    mode: 'take' | 'start',
  ): Promise<[number, number]>;
};

/** The lock of the job a call is made for: the call goes only while the job is still ours. */
export interface Lease {
  lockKey: string;
  token: string;
  /** The lock's duration (WORKER_STALL_MS): a lock with less than half of it left is renewed. */
  lockMs: number;
}

/**
 * The calls a fleet may start per second under a limit of `perSecond`: a little is kept back
 * (2%, at least one call) for the time between a call starting here and reaching the platform,
 * so that no second, as the platform counts it, carries more than `perSecond`.
 */
export function paceCap(perSecond: number): number {
  return Math.max(1, perSecond - Math.max(1, Math.floor(perSecond / 50)));
}

/**
 * A fleet-wide cap on calls per second, per scope (e.g. one IM command), shared through Redis by
 * every process of the fleet: calls are spaced evenly (no burst at the start of a second and
 * silence after), no second of Redis's clock carries more than the cap, and a call below the cap
 * goes at once, in one round trip. The same round trip checks that the job the call is made for
 * is still this worker's, right before the call leaves, and gives Redis's time.
 */
export class RateGate {
  private readonly redis: PaceCommand;

  constructor(
    redis: Redis | Cluster,
    private readonly keys: StateKeys,
    /** The limit of a scope, calls per second: see paceCap. */
    private readonly perSecond: (scope: string) => number,
  ) {
    if (!('wximPace' in redis)) redis.defineCommand('wximPace', { numberOfKeys: 3, lua: PACE });
    this.redis = redis as unknown as PaceCommand;
  }

  /**
   * Resolves with Redis's time (ms) once the call may start; throws LockLostError when the job's
   * lock is no longer ours (another worker has the job).
   */
  async acquire(scope: string, lease?: Lease): Promise<number> {
    const cap = paceCap(this.perSecond(scope));
    const intervalUs = Math.ceil(1_000_000 / cap);
    const member = randomBytes(8).toString('base64url');
    const [pace, window] = [this.keys.pace(scope), this.keys.paceWindow(scope)];
    for (let mode: 'take' | 'start' = 'take'; ; mode = 'start') {
      const [waitUs, nowUs] = await this.redis.wximPace(
        pace,
        window,
        lease?.lockKey ?? window,
        intervalUs,
        cap,
        lease?.token ?? '',
        lease?.lockMs ?? 0,
        member,
        mode,
      );
      if (waitUs < 0) throw new LockLostError(`the job's lock is no longer ours: not calling ${scope}`);
      if (waitUs === 0) return Math.floor(nowUs / 1000);
      // Round up: a timer's delay is cut to whole milliseconds, which could make it early.
      await sleep(Math.ceil(waitUs / 1000));
    }
  }
}
