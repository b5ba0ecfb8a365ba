import { type Config, isOpen } from '@wxim/config';
import type { Besides, BesidesResults, RedisClient, TransactionPart } from '@wxim/queue';
import { relayScriptsOnly, scriptsIn } from '@wxim/redis-scripts';
import type { StateKeys } from '@wxim/state';
import { deskPolicy } from '@wxim/host';
import { KIND_RULES, type WechatMessage, dedupeId } from '@wxim/wechat';
import type { ChainableCommander } from 'ioredis';

export type AutoReplyKind = 'off_hours' | 'waiting';

/** The notice a push is answered with. */
export interface AutoReplyText {
  kind: AutoReplyKind;
  text: string;
}

/**
 * What a customer is told, as the push's passive reply, while nobody can answer them: outside
 * business hours OFF_HOURS_TEXT, and WAITING_TEXT when their message will wait for an agent. At
 * most once per AUTO_REPLY_EVERY per customer; WeChat's retry of the push that was told (its first
 * answer a 503 after the store, so never shown) is told again. A passive reply is free: it uses none of the
 * replies WeChat allows the account through its customer-service API in the customer's window,
 * which stay with the agent.
 *
 * The look runs in the transaction that stores the push (see DurableEnqueuer's Besides): no
 * round trip of its own before the answer, and none for a push that is not stored.
 */
export class AutoReply implements TransactionPart {
  private readonly texts: Record<AutoReplyKind, string>;

  constructor(
    private readonly keys: StateKeys,
    private readonly config: Config,
    /** The keys of the other accounts that share the IM app (and so its agents): their waiting customers go first when they waited longer. */
    private readonly others: readonly StateKeys[] = [],
  ) {
    this.texts = { off_hours: config.desk.offHoursText, waiting: config.desk.waitingText };
  }

  defineOn(client: RedisClient): void {
    relayScriptsOnly(client, ['wximDeskAutoReply']);
  }

  /**
   * The look for this push, if it is a customer's message who may be told (`now` in ms), for the
   * store's transaction (see Besides); `notice` resolves to what to answer with, if anything.
   */
  lookFor(
    message: WechatMessage,
    now: number,
  ): ((transaction: ChainableCommander) => ReturnType<Besides> & { notice: Promise<AutoReplyText | undefined> }) | undefined {
    if (KIND_RULES[message.kind].window !== 'message') return undefined;
    const { desk, im } = this.config;
    const offHours = !isOpen(desk.hours, new Date(now));
    if ((offHours ? desk.offHoursText : desk.waitingText) === '' || im.agents.length === 0) return undefined;
    const policy = deskPolicy(this.config);
    const openid = message.fromUserName;
    const k = this.keys;
    const keys = [
      k.customer(openid),
      k.agentLoad,
      k.agentState,
      k.deskWaiting,
      k.deskWaitingSeen,
      k.deskActive,
      k.autoReplied(openid),
      k.deskLoadsOwn,
      k.carriedLoad,
      k.carriedLoadsOwn,
      ...this.others.flatMap((o) => [o.deskWaiting, o.deskWaitingSeen, o.deskActive]),
    ];
    const args = [
      openid,
      String(policy.maxOpen),
      String(policy.idleMs),
      String(policy.staleMs),
      offHours ? '1' : '0',
      String(desk.autoReplyEveryMs),
      k.customer(''),
      dedupeId(message),
      ...im.agents,
    ];
    return (transaction) => {
      void scriptsIn(transaction).wximDeskAutoReply(keys.length, ...keys, ...args);
      let settle!: (results: BesidesResults) => void;
      const notice = new Promise<AutoReplyText | undefined>((resolve, reject) => {
        settle = (results) => {
          const [err, kind] = results instanceof Error ? [results] : (results[0] ?? [new Error('no answer to the look')]);
          if (err) return reject(err);
          resolve(kind === null || kind === undefined ? undefined : { kind: kind as AutoReplyKind, text: this.texts[kind as AutoReplyKind] });
        };
      });
      return { commands: 1, settle, notice };
    };
  }
}
