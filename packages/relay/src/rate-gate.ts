import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import type { StateKeys } from './keys.js';
import { LockLostError } from './lock-lost-error.js';

// Times in these scripts are whole microseconds of Redis's clock (TIME), so every worker of the
// fleet counts the same seconds whatever its own clock says. They are written with %.0f: Lua's
// own number format keeps 14 digits, too few for them.
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
`;

// KEYS: the scope's pace key. ARGV: the interval between calls (µs), how many calls.
// A fleet-wide pace (GCRA): the key holds when the next call may start. Each call is given the
// next free slot, one interval after the one before: an idle gate starts the next call now, a
// busy one spaces calls evenly. Returns how long (µs) until the first of the calls may start.
const RESERVE = `${NOW}
local interval = tonumber(ARGV[1])
local nextFree = tonumber(redis.call('GET', KEYS[1]) or '0')
if nextFree < now then nextFree = now end
local after = nextFree + interval * tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX', math.ceil((after - now) / 1000) + 1000)
return nextFree - now
`;

// KEYS: the scope's window (a sorted set of the calls started in the last second), the job's
// lock. ARGV: the cap per second, the lock's token ('' for a call outside a job), the lock's
// duration (ms), a member unique to this call.
// The moment a call leaves: its job's lock must still be ours (else {-1}), and fewer than the cap
// of calls may have started in the last second of Redis's clock (else {µs to wait}). A lock
// running short is renewed, as BullMQ's own renewal would. Returns {0, now (µs)} when it may go.
const START = `${NOW}
if ARGV[2] ~= '' then
  if redis.call('GET', KEYS[2]) ~= ARGV[2] then return {-1, now} end
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) / 2 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - 1000000))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {tonumber(oldest[2]) + 1000000 - now, now}
end
redis.call('ZADD', KEYS[1], string.format('%.0f', now), ARGV[4])
redis.call('PEXPIRE', KEYS[1], 2000)
return {0, now}
`;

type GateCommands = {
  wximPaceReserve(key: string, intervalUs: number, count: number): Promise<number>;
  wximPaceStart(window: string, lock: string, cap: number, token: string, lockMs: number, member: string): Promise<[number, number]>;
};

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

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
 * A fleet-wide cap on calls per second, per scope (e.g. one IM command), in two steps:
 * - `reserve`: every process of the fleet takes its calls' start times from one key in Redis,
 *   evenly spaced — no burst at the start of a second and silence after. Below the cap there is
 *   no wait at all. Calls asked for in the same turn of the event loop share one round trip.
 * - `start`, right before the request leaves: the hard cap, a count of the calls started in the
 *   last second of Redis's clock (a call woken late, after a pause of its process, cannot bunch
 *   up with the calls on time), and the check that the job's lock is still ours. One round trip,
 *   which also gives Redis's time.
 */
export class RateGate {
  private readonly redis: GateCommands;
  private readonly pending = new Map<string, Waiter[]>();

  constructor(
    redis: Redis | Cluster,
    private readonly keys: StateKeys,
    /** The limit of a scope, calls per second: see paceCap. */
    private readonly perSecond: (scope: string) => number,
  ) {
    if (!('wximPaceReserve' in redis)) {
      redis.defineCommand('wximPaceReserve', { numberOfKeys: 1, lua: RESERVE });
      redis.defineCommand('wximPaceStart', { numberOfKeys: 2, lua: START });
    }
    this.redis = redis as unknown as GateCommands;
  }

  /** Resolves when the call's slot has come. */
  reserve(scope: string): Promise<void> {
    return new Promise((resolve, reject) => {
      let waiters = this.pending.get(scope);
      if (waiters === undefined) {
        waiters = [];
        this.pending.set(scope, waiters);
        setImmediate(() => void this.reserveFor(scope));
      }
      waiters.push({ resolve, reject });
    });
  }

  /**
   * Right before the call leaves: resolves with Redis's time (ms) once it may; throws
   * LockLostError when the job's lock is no longer ours (another worker has the job).
   */
  async start(scope: string, lease?: Lease): Promise<number> {
    const cap = paceCap(this.perSecond(scope));
    const member = randomBytes(8).toString('base64url');
    for (;;) {
      const [waitUs, nowUs] = await this.redis.wximPaceStart(
        this.keys.paceWindow(scope),
        lease?.lockKey ?? this.keys.paceWindow(scope),
        cap,
        lease?.token ?? '',
        lease?.lockMs ?? 0,
        member,
      );
      if (waitUs < 0) throw new LockLostError(`the job's lock is no longer ours: not calling ${scope}`);
      if (waitUs === 0) return Math.floor(nowUs / 1000);
      await sleep(Math.ceil(waitUs / 1000));
    }
  }

  private async reserveFor(scope: string): Promise<void> {
    const waiters = this.pending.get(scope) ?? [];
    this.pending.delete(scope);
    const intervalUs = Math.ceil(1_000_000 / paceCap(this.perSecond(scope)));
    try {
      const firstUs = await this.redis.wximPaceReserve(this.keys.pace(scope), intervalUs, waiters.length);
      waiters.forEach((w, i) => {
        // Round up: a timer's delay is cut to whole milliseconds, which could make it early.
        const ms = Math.ceil((firstUs + i * intervalUs) / 1000);
        if (ms <= 0) w.resolve();
        else setTimeout(w.resolve, ms);
      });
    } catch (err) {
      for (const w of waiters) w.reject(err as Error);
    }
  }
}
