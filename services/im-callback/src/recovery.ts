import type { AfterSendMsg, ImClient, RoamMessage } from '@wxim/im';
import type { Lease, StateKeys } from '@wxim/relay';
import type { Redis, Cluster } from 'ioredis';
import type { CallbackWatch, Gap } from './callback-watch.js';
import type { ReplyStore } from './reply-store.js';

/** WeChat's longest reply window: a reply older than this could not be delivered, so is not looked for. */
const HORIZON_MS = 48 * 3600 * 1000;
/** Messages are looked for a little either side of a gap: they were sent a moment before their callback. */
const MARGIN_MS = 2 * 60 * 1000;
/** One recovery at a time across the fleet. */
const LOCK_MS = 10 * 60 * 1000;

export interface RecoveryDeps {
  redis: Redis | Cluster;
  keys: StateKeys;
  im: ImClient;
  watch: CallbackWatch;
  store: ReplyStore;
  agents: ReadonlySet<string>;
  /** The turn of one history call: IM's fleet-wide pace, within the share recovery may use. */
  turn: (command: string, lease?: Lease) => Promise<number>;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
  onRecovered: (n: number) => void;
}

/**
 * After a gap in which IM's callbacks may have been missed (see CallbackWatch), looks through
 * IM's history of every conversation that could have had replies in it — customers who acted in
 * the last 48 hours, with their agent — and stores each agent reply in the gap, oldest first.
 * Replies seen through their callback are stored once all the same (their job ids come from
 * their MsgKeys). A gap is resolved only once every conversation was looked through.
 */
export class CallbackRecovery {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(private readonly deps: RecoveryDeps) {}

  /** Runs a recovery now, or once more after the one running. */
  trigger(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.runAll()
      .catch((err: Error) => this.deps.log.warn({ reason: err.message }, 'callback recovery stopped; it runs again after the next gap or start'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.trigger();
        }
      });
  }

  /** Resolves when no recovery is running. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async runAll(): Promise<void> {
    const { redis, keys, watch } = this.deps;
    const lock = `${keys.callbackGaps}:lock`;
    const token = String(Math.random());
    if ((await redis.set(lock, token, 'PX', LOCK_MS, 'NX')) !== 'OK') return;
    try {
      for (const gap of await watch.gaps()) {
        const n = await this.recover(gap, async () => {
          // Still ours: kept for as long as the recovery runs, however many conversations it reads.
          if ((await redis.get(lock)) === token) await redis.pexpire(lock, LOCK_MS);
        });
        await watch.resolved(gap);
        this.deps.onRecovered(n);
        this.deps.log.info(
          { from: new Date(gap.from).toISOString(), to: new Date(gap.to).toISOString(), stored: n },
          'looked through IM history for replies whose callbacks may have been missed',
        );
      }
    } finally {
      if ((await redis.get(lock)) === token) await redis.del(lock);
    }
  }

  private async recover(gap: Gap, stillOurs: () => Promise<void>): Promise<number> {
    const { redis, keys, im, store, agents } = this.deps;
    const now = Date.now();
    const from = Math.max(gap.from - MARGIN_MS, now - HORIZON_MS);
    const to = gap.to + MARGIN_MS;
    if (from >= to) return 0;
    const customers = await redis.zrangebyscore(keys.recentCustomers, now - HORIZON_MS, '+inf');
    let stored = 0;
    for (const openid of customers) {
      await stillOurs();
      const [userId, agent] = await redis.hmget(keys.customer(openid), 'userId', 'agent');
      if (!userId || !agent) continue;
      const found: RoamMessage[] = [];
      const options = { beforeSend: async (command: string) => (await this.deps.turn(command)) >= 0 };
      for await (const page of im.history(agent, userId, Math.floor(from / 1000), Math.ceil(to / 1000), options)) {
        found.push(...page.filter((m) => agents.has(m.From_Account) && m.To_Account === userId));
      }
      // History comes newest first; the customer gets them in the order they were sent.
      found.sort((a, b) => a.MsgTimeStamp - b.MsgTimeStamp || a.MsgSeq - b.MsgSeq);
      for (const m of found) {
        const msg: AfterSendMsg = {
          fromAccount: m.From_Account,
          toAccount: m.To_Account,
          msgSeq: m.MsgSeq,
          msgRandom: m.MsgRandom,
          msgTime: m.MsgTimeStamp,
          msgKey: m.MsgKey,
          msgBody: m.MsgBody,
          ...(m.CloudCustomData ? { cloudCustomData: m.CloudCustomData } : {}),
          sendMsgResult: 0,
        };
        if (store.skipOf(msg) !== undefined) continue;
        if ((await store.store(msg, 'recovery')) !== undefined) stored++;
      }
    }
    return stored;
  }
}
