import { setTimeout as sleep } from 'node:timers/promises';
import { type RelayScripts, relayScripts } from '@wxim/redis-scripts';
import type { StateKeys } from '@wxim/relay';
import type { Redis, Cluster } from 'ioredis';

/**
 * How often each instance says it is running. A heartbeat older than three beats (one, when an
 * instance starts) means no instance was running: callbacks may have been missed.
 */
export const HEARTBEAT_MS = 2000;

export interface Gap {
  from: number;
  to: number;
  member: string;
}

/**
 * Knows when IM's callbacks may have been missed, which IM never sends again: while no instance
 * of im-callback was running (a heartbeat in Redis, kept by every instance), while an instance
 * answered errors (Redis could not store), and while one was shutting down and refused
 * callbacks a load balancer still sent it. Each such time range becomes a gap, kept in Redis
 * until a recovery has looked through IM's history for it; every beat of every instance looks
 * whether one is waiting.
 */
export class CallbackWatch {
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
  ) {
    this.scripts = relayScripts(redis);
  }

  start(): void {
    const tick = () => void this.beat().catch(() => undefined);
    tick();
    this.timer = setInterval(tick, this.heartbeatMs);
    this.timer.unref();
  }

  /** Shutting down: the callbacks this instance still gets are refused (and their time becomes a gap at `stop`). */
  closingNow(): void {
    this.closing = true;
  }

  get isClosing(): boolean {
    return this.closing;
  }

  /** Stops beating; the time since callbacks failed, if any did, is stored as a gap if Redis answers. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    // The last chance to store the gap: a connection between two states is given a few tries.
    for (let tries = 0; tries < 20; tries++) {
      try {
        return await this.beat();
      } catch {
        await sleep(100);
      }
    }
  }

  /** A callback this instance could not store: the time it failed is a gap once Redis answers again. */
  failed(at = Date.now()): void {
    this.failingSince ??= at;
  }

  async beat(): Promise<void> {
    const silence = (this.first ? 1 : 3) * this.heartbeatMs;
    const [, , waiting] = await this.scripts.wximCallbackHeartbeat(this.keys.callbackHeartbeat, this.keys.callbackGaps, silence);
    this.first = false;
    let found = waiting > 0;
    if (this.failingSince !== undefined) {
      // A second either side: the failed callbacks' messages were sent a little before they reached us.
      const from = this.failingSince - 1000;
      const to = Date.now() + 1000;
      await this.redis.zadd(this.keys.callbackGaps, from, `${from}-${to}`);
      this.failingSince = undefined;
      found = true;
    }
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
