import type { Cluster, Redis } from 'ioredis';
import { type RelayScripts, relayScripts } from '@wxim/redis-scripts';
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
  /**
   * WINDOW_WARNING_MS: the customer's reply window is watched until it closes or they are answered,
   * for their agent's warning (see WindowNotices).
   */
  watch: boolean;
  /** Open windows watched at most (tests set a small one). */
  watchCap?: number;
}

/**
 * The steps that follow a customer's message relayed to their agent, in one round trip (one script,
 * RELAYED): the unanswered mark and the window watch.
 */
export class RelayedMessage {
  private readonly scripts: RelayScripts;

  constructor(
    redis: Redis | Cluster,
    private readonly keys: StateKeys,
    private readonly options: RelayedOptions,
  ) {
    this.scripts = relayScripts(redis);
  }

  /** Whether any step is on: with none, nothing is sent. */
  get on(): boolean {
    return this.options.unanswered || this.options.watch;
  }

  /**
   * The customer's message was relayed at `nowMs`. Resolves to how many windows went unwatched
   * for the watch's cap (those closing last: see watchWindow in the scripts), 0 as a rule; those
   * customers' agents are not warned unless they write again.
   */
  async relayed(openid: string, nowMs: number): Promise<number> {
    if (!this.on) return 0;
    const { keys, options } = this;
    return this.scripts.wximRelayed(
      keys.deskUnanswered,
      keys.replyWindow(openid),
      keys.windowWatch,
      openid,
      Math.floor(nowMs).toFixed(0),
      options.watchCap ?? WATCH_CAP,
      options.unanswered ? '1' : '0',
      options.watch ? '1' : '0',
    );
  }
}
