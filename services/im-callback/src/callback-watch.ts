import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RelayScripts, relayScripts } from '@wxim/redis-scripts';
import type { StateKeys } from '@wxim/state';
import type { Redis, Cluster } from 'ioredis';

/**
 * How often each instance says it is running. An instance silent for three beats without a clean
 * stop died; the fleet silent for three beats (one, when an instance starts) means none ran.
 */
export const HEARTBEAT_MS = 2000;

export interface Gap {
  from: number;
  to: number;
  member: string;
}

interface Log {
  warn(o: object, m: string): void;
}

/**
 * Knows when IM's callbacks may have been missed, which IM never sends again. Each instance beats
 * under its own id and removes it when it stops cleanly, so a gap is left
 * - for an instance whose beats stopped without a clean stop (killed, out of memory, its node
 *   lost): from its last beat to when another instance, or the next start, found it — the
 *   callbacks it was answering are lost whatever the other replicas did;
 * - while no instance ran at all (the fleet's heartbeat went quiet);
 * - while this instance answered errors (Redis could not store), and while it was shutting down
 *   and refused callbacks a load balancer still sent it.
 * Each gap is kept in Redis until a recovery has looked through IM's history for it; every beat
 * of every instance looks whether one is waiting.
 */
export class CallbackWatch {
  /** This instance, in the fleet's list of beats and in logs. */
  readonly id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private timer: NodeJS.Timeout | undefined;
  /** When this instance first answered an error since it last stored a gap. */
  private failingSince: number | undefined;
  /** Until the first beat: a silence of one beat is a gap then (this instance was not running either). */
  private first = true;
  private closing = false;

  private readonly scripts: RelayScripts;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: StateKeys,
    private readonly onGap: () => void,
    /** How often this instance beats; a silence of three beats is a gap. */
    private readonly heartbeatMs = HEARTBEAT_MS,
    private readonly log?: Log,
  ) {
    this.scripts = relayScripts(redis);
  }

  start(): void {
    let failing = false;
    const tick = () =>
      void this.beat().then(
        () => (failing = false),
        (err: Error) => {
          // Said once a streak: without Redis every beat fails, and /readyz says so already.
          if (!failing) this.log?.warn({ reason: err.message }, 'the heartbeat could not be written; it is tried again every beat');
          failing = true;
        },
      );
    // The first beat as soon as Redis is connected (commands are not queued before): until then
    // the fleet does not know this instance, so it is not ready for callbacks (see `known`).
    if (this.redis.status === 'ready') tick();
    else this.redis.once('ready', tick);
    this.timer = setInterval(tick, this.heartbeatMs);
    this.timer.unref();
  }

  /** Whether the fleet knows this instance (it has beaten once): were it to die, its time would be looked through. */
  get known(): boolean {
    return !this.first;
  }

  /** Shutting down: the callbacks this instance still gets are refused (and their time becomes a gap at `stop`). */
  closingNow(): void {
    this.closing = true;
  }

  get isClosing(): boolean {
    return this.closing;
  }

  /**
   * Stops beating and marks the stop as clean; the time since callbacks failed, if any did, is
   * stored as a gap. Without Redis the stop cannot be marked: the others (or the next start)
   * then take the silence for a death and look through its time, which costs a look, never a reply.
   */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    // The last chance to store the gap: a connection between two states is given a few tries.
    for (let tries = 0; tries < 20; tries++) {
      try {
        return await this.beat('stop');
      } catch {
        await sleep(100);
      }
    }
  }

  /** A callback this instance could not store: the time it failed is a gap once Redis answers again. */
  failed(at = Date.now()): void {
    this.failingSince = Math.min(this.failingSince ?? at, at);
  }

  async beat(mode: 'beat' | 'stop' = 'beat'): Promise<void> {
    // The gap first: a clean stop is marked only once its gap is stored (a stop that could not
    // store it is left unmarked, and the others take its silence for a death and look through it).
    let found = false;
    const failingSince = this.failingSince;
    if (failingSince !== undefined) {
      // Taken before the write: a callback failing meanwhile starts the next gap, not lost in this one.
      this.failingSince = undefined;
      // A second either side: the failed callbacks' messages were sent a little before they reached us.
      const from = failingSince - 1000;
      const to = Date.now() + 1000;
      try {
        await this.redis.zadd(this.keys.callbackGaps, from, `${from}-${to}`);
      } catch (err) {
        this.failed(failingSince);
        throw err;
      }
      found = true;
    }
    const fleetSilence = (this.first ? 1 : 3) * this.heartbeatMs;
    const [, left, waiting, dead] = await this.scripts.wximCallbackHeartbeat(
      this.keys.callbackHeartbeat,
      this.keys.callbackGaps,
      this.keys.callbackInstances,
      fleetSilence,
      this.id,
      3 * this.heartbeatMs,
      mode,
    );
    this.first = false;
    for (const instance of dead) this.log?.warn({ instance }, 'an im-callback instance stopped without a clean stop: its time is looked through in IM history');
    if (left > 0 || waiting > 0) found = true;
    // A closing instance leaves its gap to the others, or to the next start.
    if (found && !this.closing) this.onGap();
  }

  async gaps(): Promise<Gap[]> {
    const members = await this.redis.zrange(this.keys.callbackGaps, 0, 99);
    return members.map((member) => {
      const [from, to] = member.split('-').map(Number) as [number, number];
      return { from, to, member };
    });
  }

  async resolved(gap: Gap): Promise<void> {
    await this.redis.zrem(this.keys.callbackGaps, gap.member);
  }
}
