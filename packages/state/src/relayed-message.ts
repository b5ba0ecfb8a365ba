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

/** What RelayedMessage.relayed found. */
export interface Relayed {
  /** How many open windows went unwatched for the watch's cap (those closing last: see watchWindow in the scripts), 0 as a rule. */
  unwatched: number;
  /** The agent who serves the customer now, read after the send: undefined when none was ever given. */
  agent: string | undefined;
}

/**
 * The steps that follow a customer's message relayed to their agent, in one round trip (one script,
 * RELAYED): the unanswered mark and the window watch, each on or off by its setting, and who serves
 * the customer now (always: a hand-on that landed while the send was on its way leaves the message
 * with the agent who let the customer go, and the im-worker relays it again to the new one).
 */
export class RelayedMessage {
  private readonly scripts: RelayScripts;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: StateKeys,
    private readonly options: RelayedOptions,
  ) {
    this.scripts = relayScripts(redis);
  }

  /** Whether any step is on: with none, only the customer's agent is read. */
  get on(): boolean {
    return this.options.unanswered || this.options.watch;
  }

  /**
   * The customer's message (sent at `messageAtMs`, its CreateTime) was relayed at `nowMs`. Customers
   * whose windows went unwatched for the cap are not warned of unless they write again.
   */
  async relayed(openid: string, nowMs: number, messageAtMs?: number): Promise<Relayed> {
    const { keys, options } = this;
    if (!this.on) return { unwatched: 0, agent: (await this.redis.hget(keys.customer(openid), 'agent')) ?? undefined };
    const [unwatched, agent] = await this.scripts.wximRelayed(
      keys.deskUnanswered,
      keys.replyWindow(openid),
      keys.windowWatch,
      keys.customer(openid),
      openid,
      Math.floor(nowMs).toFixed(0),
      options.watchCap ?? WATCH_CAP,
      options.unanswered ? '1' : '0',
      options.watch ? '1' : '0',
      messageAtMs === undefined ? '' : Math.floor(messageAtMs).toFixed(0),
    );
    return { unwatched, agent: agent ?? undefined };
  }
}
