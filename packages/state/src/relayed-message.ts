import type { Cluster, Redis } from 'ioredis';
import { relayScripts, scriptsIn } from '@wxim/redis-scripts';
import type { StateKeys } from './keys.js';
import { WATCH_CAP } from './window-notices.js';

/** What follows a customer's message relayed, each step on or off by its setting. */
export interface RelayedOptions {
  /**
   * FIRST_RESPONSE_SLA_S: the customer waits for their agent's answer from now, unless they already
   * did. The desk's unanswered set holds the customers whose latest message waits for an answer,
   * by since when (Redis's clock); the pusher clears one when it delivers a reply from the serving
   * agent, or on /close; FIRST_RESPONSE_SLA_S moves the conversations overdue.
   */
  unanswered: boolean;
  /** WINDOW_WARNING_MS: the customer's reply window is watched for their agent's warning (see WindowNotices.watch). */
  watch: boolean;
  /** Open windows watched at most (tests set a small one). */
  watchCap?: number;
}

/**
 * The steps that follow a customer's message relayed to their agent, in one round trip: the
 * unanswered mark and the window watch (the same script as WindowNotices.watch), sent together
 * (one pipeline: with appendfsync always, one disk sync for both, and one reply to wait for).
 */
export class RelayedMessage {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: StateKeys,
    private readonly options: RelayedOptions,
  ) {
    relayScripts(redis);
  }

  /** Whether any step is on: with none, nothing is sent. */
  get on(): boolean {
    return this.options.unanswered || this.options.watch;
  }

  /**
   * The customer's message was relayed at `nowMs`. Resolves to how many windows went unwatched
   * for the watch's cap (see WindowNotices.watch), 0 as a rule.
   */
  async relayed(openid: string, nowMs: number): Promise<number> {
    if (!this.on) return 0;
    const pipeline = this.redis.pipeline();
    const scripts = scriptsIn(pipeline);
    if (this.options.unanswered) void scripts.wximDeskMarkUnanswered(this.keys.deskUnanswered, openid);
    if (this.options.watch) {
      const cap = this.options.watchCap ?? WATCH_CAP;
      void scripts.wximWindowWatch(this.keys.replyWindow(openid), this.keys.windowWatch, openid, Math.floor(nowMs).toFixed(0), cap);
    }
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err !== null)?.[0];
    if (failed) throw failed;
    return this.options.watch ? Number(results.at(-1)?.[1] ?? 0) : 0;
  }
}
