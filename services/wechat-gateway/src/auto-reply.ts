import { type Config, isOpen } from '@wxim/config';
import { relayScripts } from '@wxim/redis-scripts';
import type { StateKeys } from '@wxim/state';
import { deskPolicy } from '@wxim/host';
import { KIND_RULES, type WechatMessage } from '@wxim/wechat';
import type { Cluster, Redis } from 'ioredis';

export type AutoReplyKind = 'off_hours' | 'waiting';

/**
 * What a customer is told, as the push's passive reply, while nobody can answer them: outside
 * business hours OFF_HOURS_TEXT, and WAITING_TEXT when their message will wait for an agent. At
 * most once per AUTO_REPLY_EVERY per customer. A passive reply is free: it uses none of the
 * replies WeChat allows the account through its customer-service API in the customer's window,
 * which stay with the agent.
 */
export class AutoReply {
  private readonly texts: Record<AutoReplyKind, string>;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: StateKeys,
    private readonly config: Config,
  ) {
    this.texts = { off_hours: config.desk.offHoursText, waiting: config.desk.waitingText };
  }

  /** The reply to this push, if it is a customer's message and they are to be told; `now` in ms. */
  async replyTo(message: WechatMessage, now: number): Promise<{ kind: AutoReplyKind; text: string } | undefined> {
    if (KIND_RULES[message.kind].window !== 'message') return undefined;
    const { desk, im } = this.config;
    const offHours = !isOpen(desk.hours, new Date(now));
    if ((offHours ? desk.offHoursText : desk.waitingText) === '' || im.agents.length === 0) return undefined;
    const policy = deskPolicy(this.config);
    const openid = message.fromUserName;
    const k = this.keys;
    const kind = await relayScripts(this.redis).wximDeskAutoReply(
      k.customer(openid),
      k.agentLoad,
      k.agentState,
      k.deskWaiting,
      k.deskWaitingSeen,
      k.deskActive,
      k.autoReplied(openid),
      k.deskLoadsOwn,
      openid,
      String(policy.maxOpen),
      String(policy.idleMs),
      String(policy.staleMs),
      offHours ? '1' : '0',
      String(desk.autoReplyEveryMs),
      k.customer(''),
      ...im.agents,
    );
    return kind === null ? undefined : { kind, text: this.texts[kind] };
  }
}
