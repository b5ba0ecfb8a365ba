import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import type { StateKeys } from './keys.js';
import { LockLostError } from './lock-lost-error.js';
import { type RateScope, scopeName } from './rate-scope.js';
import { type RelayScripts, relayScripts } from '@wxim/redis-scripts';

/** The lock of the job a call is made for: the call goes only while the job is still ours. */
export interface Lease {
  lockKey: string;
  token: string;
  /** The lock's duration (WORKER_STALL_MS): a lock with less than half of it left is renewed. */
  lockMs: number;
}

/** A call's turn for another script to take along with its own work (see RelayTurn.begin): the pace's keys and arguments. */
export interface PaceTurn {
  /** The scope's pace, its window, the job's lock (the window again for a call outside a job). */
  keys: [string, string, string];
  /** The interval (µs), the cap, the lock's token and duration, a member unique to the call. */
  args: [string, string, string, string, string];
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
 * The spacing of calls under a cap (µs): a half per cent more than an even share of the second, so
 * that the call `cap` slots after another comes 5 ms after that one has left the second, not on
 * its heels. Calls start a little after their slots (timers, the event loop); with no margin, a
 * call whose slot has come would often find the second still full of the call `cap` before it,
 * started late, and look again. Costs half a per cent of the budget.
 */
export function paceInterval(cap: number): number {
  return Math.ceil(1_005_000 / cap);
}

/**
 * A fleet-wide cap on calls per second, per scope (e.g. one IM command: RateScope), shared through Redis by
 * every process of the fleet: calls are spaced evenly (no burst at the start of a second and
 * silence after), no second of Redis's clock carries more than the cap, and a call below the cap
 * goes at once, in one round trip. The same round trip checks that the job the call is made for
 * is still this worker's, right before the call leaves, and gives Redis's time.
 */
export class RateGate {
  private readonly redis: RelayScripts;

  private readonly keysOf: (scope: RateScope) => StateKeys;

  constructor(
    redis: Redis | Cluster,
    /** Where a scope's pace is kept: one place for every scope, or a place per scope (accounts that share an IM app share its pace). */
    keys: StateKeys | ((scope: RateScope) => StateKeys),
    /** The limit of a scope, calls per second: see paceCap. */
    private readonly perSecond: (scope: RateScope) => number,
  ) {
    this.redis = relayScripts(redis);
    this.keysOf = typeof keys === 'function' ? keys : () => keys;
  }

  /**
   * A call that is skipped rather than delayed (it takes no job's turn, e.g. a typing indicator):
   * true when it may start now (and it is counted), false when the scope's pace has no room now.
   */
  async tryAcquire(scope: RateScope): Promise<boolean> {
    const cap = paceCap(this.perSecond(scope));
    const keys = this.keysOf(scope);
    const [pace, window] = [keys.pace(scope), keys.paceWindow(scope)];
    const member = randomBytes(8).toString('base64url');
    const [waitUs] = await this.redis.wximPace(pace, window, window, paceInterval(cap), cap, '', 0, member, 'try');
    return waitUs === 0;
  }

  /**
   * The turn of one call in `scope` for another script to take, with the same lock check as
   * acquire: the script chooses the mode (RelayTurn.begin's takes it, or reserves the call's slot
   * when the pace has no room now; see startReserved).
   */
  turnOf(scope: RateScope, lease?: Lease): PaceTurn {
    const cap = paceCap(this.perSecond(scope));
    const keys = this.keysOf(scope);
    const window = keys.paceWindow(scope);
    return {
      keys: [keys.pace(scope), window, lease?.lockKey ?? window],
      args: [String(paceInterval(cap)), String(cap), lease?.token ?? '', String(lease?.lockMs ?? 0), randomBytes(8).toString('base64url')],
    };
  }

  /**
   * Resolves with Redis's time (ms) once the call may start; throws LockLostError when the job's
   * lock is no longer ours (another worker has the job).
   */
  async acquire(scope: RateScope, lease?: Lease): Promise<number> {
    return this.paced(scope, lease, 'take');
  }

  /**
   * The rest of a call's turn whose slot another script reserved ('take', see turnOf and
   * RelayTurn.begin): waits until `slotAt` (performance.now()), then asks once with 'start', as
   * acquire does after its own take: the lock check and the second's cap come right before the
   * call. Resolves with Redis's time (ms); throws LockLostError as acquire does.
   */
  async startReserved(scope: RateScope, slotAt: number, lease?: Lease): Promise<number> {
    const left = slotAt - performance.now();
    if (left > 0) await sleep(Math.ceil(left));
    return this.paced(scope, lease, 'start');
  }

  private async paced(scope: RateScope, lease: Lease | undefined, first: 'take' | 'start'): Promise<number> {
    const cap = paceCap(this.perSecond(scope));
    const intervalUs = paceInterval(cap);
    const member = randomBytes(8).toString('base64url');
    const keys = this.keysOf(scope);
    const [pace, window] = [keys.pace(scope), keys.paceWindow(scope)];
    for (let mode = first; ; mode = 'start') {
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
      if (waitUs < 0) throw new LockLostError(`the job's lock is no longer ours: not calling ${scopeName(scope)}`);
      if (waitUs === 0) return Math.floor(nowUs / 1000);
      // Round up: a timer's delay is cut to whole milliseconds, which could make it early.
      await sleep(Math.ceil(waitUs / 1000));
    }
  }
}
