import { setTimeout as sleep } from 'node:timers/promises';
import { type AfterSendMsg, type ImClient, ImNotImportedError, ImPermanentError, ImRateLimitedError, afterSendFromHistory, sentOrder } from '@wxim/im';
import type { ReplyJob } from '@wxim/queue';
import type { StateKeys } from '@wxim/relay';
import type { Redis, Cluster } from 'ioredis';
import type { ReplyStore } from './reply-store.js';

export interface ScanDeps {
  redis: Redis | Cluster;
  keys: StateKeys;
  im: ImClient;
  store: ReplyStore;
  agents: ReadonlySet<string>;
  /** Waits for one history call's turn: IM's fleet-wide pace, within the share looking for missed callbacks may use. */
  turn: (command: string) => Promise<unknown>;
  log: { warn(o: object, m: string): void };
}

/** A customer whose conversation is looked through: with their agent, and with other agents known to have written to them. */
export interface Customer {
  openid: string;
  otherAgents?: Iterable<string>;
}

/** A time range, ms. */
export interface Range {
  from: number;
  to: number;
}

/** Conversations looked through at once. */
const AT_ONCE = 8;
/** A history call IM answered with a transient error is tried this many times in all before the scan stops. */
const TRIES = 4;

/**
 * Looks through IM's history of conversations for agents' replies sent in a time range, and
 * stores each the relay never stored, in the order its agent sent them (by time, then MsgSeq),
 * behind the replies of that customer already stored. A reply seen through its callback is stored
 * once all the same (its job id comes from its MsgKey). Used after a gap (GapRecovery) and by the
 * periodic sweep (CallbackSweep).
 */
export class HistoryScan {
  constructor(private readonly deps: ScanDeps) {}

  /**
   * Looks through each customer's conversation with their agent (and with the other agents given
   * for them); `keepGoing` runs before each (e.g. to renew a lock; it throws to stop). Resolves to
   * the replies stored that had not been.
   */
  async conversations(customers: Iterable<Customer>, range: Range, via: ReplyJob['via'], keepGoing: () => Promise<void>): Promise<number> {
    let found = 0;
    const next = customers[Symbol.iterator]();
    // A few conversations at a time: IM's round trip (tens of ms from afar) must not keep the
    // look-ups below their share of IM's pace; each conversation's replies are still stored in order.
    let failure: { err: unknown } | undefined;
    const lookers = Array.from({ length: AT_ONCE }, async () => {
      for (let it = next.next(); !it.done && failure === undefined; it = next.next()) {
        try {
          await keepGoing();
          const n = await this.conversation(it.value, range, via);
          found += n; // after the await: `found += await …` would add to a stale total
        } catch (err) {
          failure ??= { err };
        }
      }
    });
    // Every looker has stopped before the scan ends: none goes on calling IM once it has failed.
    await Promise.all(lookers);
    if (failure !== undefined) throw failure.err;
    return found;
  }

  private async conversation({ openid, otherAgents = [] }: Customer, range: Range, via: ReplyJob['via']): Promise<number> {
    const { redis, keys, store } = this.deps;
    const [userId, agent] = await redis.hmget(keys.customer(openid), 'userId', 'agent');
    if (!userId) return 0;
    const replies: AfterSendMsg[] = [];
    try {
      for (const a of new Set([...(agent ? [agent] : []), ...otherAgents])) replies.push(...(await this.repliesIn(a, userId, range)));
    } catch (err) {
      // The account is gone (unfollowed and deleted) or IM refuses the pair: nothing to find there.
      if (err instanceof ImPermanentError || err instanceof ImNotImportedError) {
        this.deps.log.warn({ openid, code: err.code, reason: err.message }, "IM refused this conversation's history; looked past it");
        return 0;
      }
      throw err;
    }
    let found = 0;
    for (const msg of replies.sort(sentOrder)) {
      if (store.skipOf(msg) !== undefined) continue;
      const seen = await store.isStored(msg.msgKey);
      if ((await store.store(msg, via)) !== undefined && !seen) found++;
    }
    return found;
  }

  /** The agents' replies to `userId` in the range, as their callbacks would have told them. */
  private async repliesIn(agent: string, userId: string, range: Range): Promise<AfterSendMsg[]> {
    const { im, agents } = this.deps;
    for (let attempt = 1; ; attempt++) {
      try {
        const found: AfterSendMsg[] = [];
        const options = { beforeSend: async (command: string) => (await this.deps.turn(command), true) };
        for await (const page of im.history(agent, userId, Math.floor(range.from / 1000), Math.ceil(range.to / 1000), options)) {
          for (const m of page) if (agents.has(m.From_Account) && m.To_Account === userId) found.push(afterSendFromHistory(m));
        }
        return found;
      } catch (err) {
        if (err instanceof ImPermanentError || err instanceof ImNotImportedError || attempt >= TRIES) throw err;
        // Over IM's limit (another caller of the app's budget): wait as IM asks; else back off a little.
        await sleep(err instanceof ImRateLimitedError ? err.retryAfterMs : 500 * 2 ** (attempt - 1));
      }
    }
  }
}
