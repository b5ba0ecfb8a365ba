import { type FleetLock, type StateKeys, redisNowMs } from '@wxim/state';
import type { Redis, Cluster } from 'ioredis';
import type { ActiveConversations } from './active-conversations.js';
import { HORIZON_MS, type HistoryScan, MARGIN_MS } from './history-scan.js';
import { type OwedLooks, merged } from './owed-looks.js';

/**
 * A sweep looks only this long ago and before: the callbacks of later replies may still be on
 * their way (IM calls back within its 2 s budget), and a reply whose callback comes late is not
 * a missed one. The next sweep takes it up.
 */
export const SETTLE_MS = 30_000;

/**
 * IM refusing agents' conversation lists with a code the relay does not know may pass (an error of
 * IM's) or last (an edition without them): for this long, sweeps look through what they can but
 * keep their cursor, so the time is looked through again once the lists answer; after it, sweeps
 * go on without the lists.
 */
export const LISTS_REFUSED_GRACE_MS = 10 * 60_000;

export interface SweepDeps {
  redis: Redis | Cluster;
  keys: StateKeys;
  scan: HistoryScan;
  active: ActiveConversations;
  owed: OwedLooks;
  /** The fleet's one look through IM's history at a time (shared with gaps' recoveries). */
  lock: FleetLock;
  /** CALLBACK_SWEEP_MS: how often the fleet sweeps. */
  periodMs: number;
  /** How long ago a sweep looks up to (SETTLE_MS); tests shorten it. */
  settleMs?: number;
  /** LISTS_REFUSED_GRACE_MS; tests shorten it. */
  listsGraceMs?: number;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
  /** Each sweep that ran: its outcome, its duration and the replies it stored that had not been. */
  onSweep: (outcome: 'ok' | 'failed', seconds: number, found: number) => void;
}

/** What the last sweep left in Redis: how far the history was looked through, and when it last succeeded (ms). */
export interface SweepState {
  cursor?: number;
  lastSuccessAt?: number;
  conversations?: number;
  /** Since when the oldest look owed to a conversation IM failed for is (ms). */
  owedFrom?: number;
  /** When this was read, on Redis's clock (ms): how far behind the cursor is, whichever instance asks. */
  readAt: number;
}

/**
 * The sweep catches what no gap can show: callbacks IM could not deliver at all (an ingress 502,
 * a cut network, IM's own error) while every instance was running. Every `periodMs` one instance
 * of the fleet looks through IM's history of the conversations active since the last sweep (see
 * ActiveConversations) from where the last sweep stopped (less a margin for IM's clock) up to a little
 * ago, and stores the agents' replies the relay never saw. A sweep that fails leaves the cursor
 * where it was: the next one looks through the same time again, and more. Every time the fleet
 * keeps (the cursor, the last success) is on Redis's clock: an instance whose own clock runs ahead
 * would otherwise move the cursor past time no sweep has looked through.
 */
export class CallbackSweep {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly settleMs: number;
  /** The failures sweep() logged itself. */
  private readonly reported = new WeakSet<Error>();

  constructor(private readonly deps: SweepDeps) {
    this.settleMs = deps.settleMs ?? SETTLE_MS;
  }

  start(): void {
    if (this.deps.periodMs === 0) return;
    const every = Math.min(15_000, Math.max(250, Math.floor(this.deps.periodMs / 4)));
    this.timer = setInterval(() => {
      this.running ??= this.runIfDue()
        .catch((err: Error) => {
          // A sweep's own failure is logged where it stopped; this is one before or after it (its lock, its state in Redis).
          if (!this.reported.has(err)) this.deps.log.warn({ reason: err.message }, 'could not look whether a sweep is due; looked again shortly');
        })
        .finally(() => (this.running = undefined));
    }, every);
    this.timer.unref();
  }

  /** Stops looking whether a sweep is due; resolves when the sweep running here, if any, has ended. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async state(): Promise<SweepState> {
    const fields = ['cursor', 'lastSuccessAt', 'conversations'] as const;
    const { redis, keys, owed } = this.deps;
    const [values, owedFrom, readAt] = await Promise.all([redis.hmget(keys.callbackSweep, ...fields), owed.oldest(), redisNowMs(redis)]);
    return {
      ...Object.fromEntries(fields.flatMap((f, i) => (values[i] == null ? [] : [[f, Number(values[i])]]))),
      ...(owedFrom === undefined ? {} : { owedFrom }),
      readAt,
    };
  }

  /**
   * Sweeps if one is due and no other instance is looking through IM's history: resolves to the
   * replies it stored that had not been, or undefined when it did not sweep. Throws when the sweep
   * failed as a whole (Redis, the lock, IM failing for every conversation's list). `now` is Redis's
   * clock unless given (tests give a later time to sweep as if it had come).
   */
  async runIfDue(at?: number): Promise<number | undefined> {
    const held = await this.deps.lock.take();
    if (held === undefined) return undefined;
    try {
      const { cursor, readAt } = await this.state();
      const now = at ?? readAt;
      const upTo = now - this.settleMs;
      if (cursor === undefined) {
        // A fleet's first start: sweeps look from here on (a gap covers what came before).
        await this.deps.redis.hset(this.deps.keys.callbackSweep, 'cursor', upTo);
        return undefined;
      }
      // After a failure the next sweep starts where the last success stopped.
      if (upTo - cursor < this.deps.periodMs) return undefined;
      const from = Math.max(cursor - MARGIN_MS, now - HORIZON_MS);
      if (from > cursor - MARGIN_MS)
        this.deps.log.warn(
          { since: new Date(cursor).toISOString() },
          'the sweep was over 48 hours behind: older replies could not be delivered any more and are not looked for',
        );
      return await this.sweep({ from, to: upTo }, now, held.keep);
    } finally {
      await held.release();
    }
  }

  /**
   * Whether IM's refusal of an agent's conversation list holds this sweep's cursor back: yes while
   * the lists have been refused for less than the grace (since when is kept in Redis, for the
   * fleet); past it, sweeps go on without them. Lists that answer end the refusal.
   */
  private async heldByRefusedLists(refused: { agent: string; code: number } | undefined): Promise<boolean> {
    const { redis, keys, log } = this.deps;
    if (refused === undefined) {
      await redis.hdel(keys.callbackSweep, 'listsRefusedSince');
      return false;
    }
    const now = await redisNowMs(redis);
    await redis.hsetnx(keys.callbackSweep, 'listsRefusedSince', now);
    const since = Number(await redis.hget(keys.callbackSweep, 'listsRefusedSince'));
    const graceMs = this.deps.listsGraceMs ?? LISTS_REFUSED_GRACE_MS;
    const fields = { ...refused, since: new Date(since).toISOString() };
    if (now - since < graceMs) {
      log.warn(
        fields,
        "IM refused an agent's conversation list: this sweep's time is looked through again at the next one (the lists are what show a conversation in which only an agent wrote)",
      );
      return true;
    }
    log.warn(
      fields,
      `IM has refused agents' conversation lists for over ${Math.round(graceMs / 60_000)} minutes: sweeps go on without them, looking only through conversations the relay saw active`,
    );
    return false;
  }

  /** Looks through `range`; `now` is when the sweep began (Redis's clock, or the time a test gave). */
  private async sweep(range: { from: number; to: number }, now: number, keepGoing: () => Promise<void>): Promise<number> {
    const { redis, keys, owed } = this.deps;
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const active = await this.deps.active.since(range.from, keepGoing);
      // An agent's list that may have lost conversations to IM's cap (they went through more since
      // the sweep's start): that agent's conversation with everyone who could have had a reply then
      // (a customer who wrote within WeChat's 48 hours) is read, as a gap's recovery does. Slower,
      // but a conversation in which only that agent wrote is not skipped. (Refused lists hold the
      // cursor instead, for a while: see heldByRefusedLists.)
      const everyone = active.capped.length === 0 ? [] : await this.deps.active.everyone(now, active.capped);
      if (everyone.length > 0)
        this.deps.log.warn(
          { since: new Date(range.from).toISOString(), agents: active.capped, customers: everyone.length },
          "an agent's conversation list holds only conversations newer than the sweep's start (IM's cap): this sweep reads that agent's conversation with every customer who wrote in the last 48 hours; sweep more often to keep sweeps short",
        );
      const held = await this.heldByRefusedLists(active.refused);
      const taken = await owed.all();
      const customers = merged(active.customers, everyone, taken);
      const conversations = customers.length;
      const { found, failed } = await this.deps.scan.conversations(customers, range, 'sweep', keepGoing);
      // Still this sweep's to write (its lock renewed): one that lost it past a slow last look
      // must not settle looks, or move the cursor, under the sweep that took over.
      await keepGoing();
      await owed.settle(taken, failed);
      const endedAt = await redisNowMs(redis);
      const done = redis.multi();
      // Held: what was found is on its way, and the same time is looked through again.
      if (held) done.hset(keys.callbackSweep, 'conversations', conversations, 'found', found);
      else done.hset(keys.callbackSweep, 'cursor', range.to, 'lastSuccessAt', endedAt, 'conversations', conversations, 'found', found);
      await done.zremrangebyscore(keys.repliedCustomers, '-inf', now - HORIZON_MS).exec();
      this.deps.onSweep(failed.length > 0 || held ? 'failed' : 'ok', seconds(), found);
      const log = {
        from: new Date(range.from).toISOString(),
        to: new Date(range.to).toISOString(),
        conversations,
        found,
        owed: failed.length,
        seconds: seconds(),
      };
      if (failed.length > 0) this.deps.log.warn(log, 'IM kept failing for some conversations: they are looked through again at the next sweep');
      if (found > 0) this.deps.log.warn(log, "the sweep found agents' replies whose callbacks never came; they are on their way to the customers now");
      else if (failed.length === 0) this.deps.log.info(log, "swept IM's history of active conversations: no callback was missed");
      return found;
    } catch (err) {
      this.deps.onSweep('failed', seconds(), 0);
      this.deps.log.warn({ reason: (err as Error).message }, 'the sweep stopped; the next one looks through the same time again');
      if (err instanceof Error) this.reported.add(err);
      throw err;
    }
  }
}
