import { type AfterSendMsg, type ImClient, ImError, ImNotImportedError, ImPermanentError, afterSendFromHistory, isRecalled, sentOrder } from '@wxim/im';
import type { ReplyJob } from '@wxim/queue';
import type { StateKeys } from '@wxim/state';
import type { Redis, Cluster } from 'ioredis';
import { withTries } from './im-tries.js';
import type { ReplyStore } from './reply-store.js';

export interface ScanDeps {
  redis: Redis | Cluster;
  keys: StateKeys;
  im: ImClient;
  store: ReplyStore;
  agents: ReadonlySet<string>;
  /** Waits for one history call's turn: IM's fleet-wide pace, within the share looking for missed callbacks may use. */
  turn: (command: string) => Promise<unknown>;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

/**
 * A customer whose conversation is looked through: with their agent, and with other agents known
 * to have written to them; from `from` (ms) when that is earlier than the scan's range (a look
 * owed since an earlier scan failed for this conversation).
 */
export interface Customer {
  openid: string;
  otherAgents?: Iterable<string>;
  from?: number;
}

/** A time range, ms. */
export interface Range {
  from: number;
  to: number;
}

export interface ScanResult {
  /** Replies stored that had not been: their callbacks never reached the relay. */
  found: number;
  /** Conversations IM could not show (after a few tries), each with the time it is owed a look from. */
  failed: { openid: string; from: number }[];
}

/** WeChat's longest reply window: a reply older than this could not be delivered, so is not looked for. */
export const HORIZON_MS = 48 * 3600 * 1000;
/** Messages are looked for a little either side of a time range: they were sent a moment before their callback, on IM's clock. */
export const MARGIN_MS = 2 * 60 * 1000;

/** Conversations looked through at once. */
const AT_ONCE = 8;
/** A history call IM answered with a transient error is tried this many times in all before the conversation is left for later. */
const TRIES = 4;

/**
 * Looks through IM's history of conversations for agents' replies sent in a time range, and
 * stores each the relay never stored, in the order its agent sent them (by time, then MsgSeq),
 * behind the replies of that customer already stored. A reply stored before (through its
 * callback, or an earlier look) is left as it is. Used after a gap (CallbackRecovery) and by the
 * periodic sweep (CallbackSweep). A conversation IM keeps failing for does not stop the others:
 * it is handed back as failed, owed a look later.
 */
export class HistoryScan {
  constructor(private readonly deps: ScanDeps) {}

  /**
   * Looks through each customer's conversations; `keepGoing` runs before each (e.g. to renew a
   * lock; it throws to stop). Throws on what no conversation can get past (Redis, a lost lock).
   */
  async conversations(customers: Iterable<Customer>, range: Range, via: ReplyJob['via'], keepGoing: () => Promise<void>): Promise<ScanResult> {
    const result: ScanResult = { found: 0, failed: [] };
    const next = customers[Symbol.iterator]();
    // A few conversations at a time: IM's round trip (tens of ms from afar) must not keep the
    // look-ups below their share of IM's pace; each conversation's replies are still stored in order.
    let failure: { err: unknown } | undefined;
    const lookers = Array.from({ length: AT_ONCE }, async () => {
      for (let it = next.next(); !it.done && failure === undefined; it = next.next()) {
        const customer = it.value;
        // Never past the horizon: older replies could not be delivered, and their ids' deduplication is gone.
        const from = Math.max(Math.min(range.from, customer.from ?? range.from), Date.now() - HORIZON_MS);
        try {
          const { found, refused } = await this.conversation(customer, { from, to: range.to }, via, keepGoing);
          result.found += found; // after the await: `found += await …` would add to a stale total
          // Owed again, unless it has been refused for the whole of the horizon already: no reply it
          // could still show can be delivered, and an edition or account refusing it for good would
          // keep it owed, and every sweep failed, forever.
          if (refused && !(customer.from !== undefined && customer.from <= Date.now() - HORIZON_MS)) result.failed.push({ openid: customer.openid, from });
          else if (refused)
            this.deps.log.warn({ openid: customer.openid }, "IM has refused this conversation's history for 48 hours: it is no longer looked through");
        } catch (err) {
          if (err instanceof ImError) result.failed.push({ openid: customer.openid, from });
          else failure ??= { err };
        }
      }
    });
    // Every looker has stopped before the scan ends: none goes on calling IM once it has failed.
    await Promise.all(lookers);
    if (failure !== undefined) throw failure.err;
    return result;
  }

  /**
   * Stores the replies found in the customer's conversations with their agent and the others named;
   * `refused` when IM refused one of them with a code that does not say an account is missing (it
   * may be an error of IM's that passes): the customer is then owed another look. `keepGoing` runs
   * before each agent's conversation: an owed look reads every agent's, which may outlast the lock.
   */
  private async conversation(
    { openid, otherAgents = [] }: Customer,
    range: Range,
    via: ReplyJob['via'],
    keepGoing: () => Promise<void>,
  ): Promise<{ found: number; refused: boolean }> {
    const { redis, keys, store } = this.deps;
    const [userId, agent] = await redis.hmget(keys.customer(openid), 'userId', 'agent');
    if (!userId) return { found: 0, refused: false };
    const replies: AfterSendMsg[] = [];
    let refused = false;
    for (const a of new Set([...(agent ? [agent] : []), ...otherAgents])) {
      await keepGoing();
      try {
        replies.push(...(await this.repliesIn(a, userId, range)));
      } catch (err) {
        // The account is gone (unfollowed and deleted, an agent with no IM account): nothing to
        // find there. Any other refusal is looked at again later. Either way the other agents'
        // conversations are still read.
        if (err instanceof ImNotImportedError) {
          this.deps.log.warn({ openid, agent: a, code: err.code, reason: err.message }, 'IM has no account for one side of this conversation; looked past it');
          continue;
        }
        if (err instanceof ImPermanentError) {
          this.deps.log.warn({ openid, agent: a, code: err.code, reason: err.message }, "IM refused this conversation's history: it is owed another look");
          refused = true;
          continue;
        }
        throw err;
      }
    }
    let found = 0;
    for (const msg of replies.sort(sentOrder)) {
      if (store.skipOf(msg) !== undefined) continue;
      if (await store.isStored(msg.msgKey)) {
        // Refused earlier because the history did not show it then (it trailed): it does now.
        if (await store.reviveUnconfirmed(msg))
          this.deps.log.info({ openid, msgKey: msg.msgKey }, "a reply IM's history did not show in time is shown now: delivered after all");
        continue;
      }
      if ((await store.store(msg, via)) !== undefined) found++;
    }
    return { found, refused };
  }

  /** The agent's replies to `userId` in the range, as their callbacks would have told them. */
  private async repliesIn(agent: string, userId: string, range: Range): Promise<AfterSendMsg[]> {
    const { im, agents } = this.deps;
    const options = { beforeSend: async (command: string) => (await this.deps.turn(command), true) };
    return withTries(TRIES, async () => {
      const found: AfterSendMsg[] = [];
      // Read from the customer's side, the relay's own account, which never deletes anything: an agent
      // who deleted the conversation in their client no longer sees its messages from theirs.
      for await (const page of im.history(userId, agent, Math.floor(range.from / 1000), Math.ceil(range.to / 1000), options)) {
        // A recalled message is never stored (nor revived): its agent took it back.
        for (const m of page) if (agents.has(m.From_Account) && m.To_Account === userId && !isRecalled(m)) found.push(afterSendFromHistory(m));
      }
      return found;
    });
  }
}
