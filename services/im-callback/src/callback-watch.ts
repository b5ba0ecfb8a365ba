import { type RelayScripts, relayScripts } from '@wxim/redis-scripts';
import type { StateKeys } from '@wxim/relay';
import type { Redis, Cluster } from 'ioredis';

/** How often each instance says it is running. */
export const HEARTBEAT_MS = 5000;
/** A heartbeat older than three beats means no instance was running: callbacks may have been missed. */

export interface Gap {
  from: number;
  to: number;
  member: string;
}

/**
 * Knows when IM's callbacks may have been missed, which IM never sends again: while no instance
 * of im-callback was running (a heartbeat in Redis, kept by every instance), and while an
 * instance answered errors (Redis could not store). Each such time range becomes a gap, kept in
 * Redis until a recovery has looked through IM's history for it.
 */
export class CallbackWatch {
  private timer: NodeJS.Timeout | undefined;
  /** When this instance first answered an error since it last stored a gap. */
  private failingSince: number | undefined;
  /** Until the first beat: gaps a recovery that did not finish left behind are looked at then. */
  private first = true;

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

  stop(): void {
    clearInterval(this.timer);
  }

  /** A callback this instance could not store: the time it failed is a gap once Redis answers again. */
  failed(at = Date.now()): void {
    this.failingSince ??= at;
  }

  async beat(): Promise<void> {
    const [, last] = await this.scripts.wximCallbackHeartbeat(this.keys.callbackHeartbeat, this.keys.callbackGaps, 3 * this.heartbeatMs);
    let found = last > 0 || this.first;
    this.first = false;
    if (this.failingSince !== undefined) {
      // A second either side: the failed callbacks' messages were sent a little before they reached us.
      const from = this.failingSince - 1000;
      const to = Date.now() + 1000;
      await this.redis.zadd(this.keys.callbackGaps, from, `${from}-${to}`);
      this.failingSince = undefined;
      found = true;
    }
    if (found) this.onGap();
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
