import { type AfterSendMsg, type MsgWithdraw, decodeRelayCustomData, typingOf } from '@wxim/im';
import {
  type AgentSignal,
  DurableEnqueuer,
  EnqueueTimeout,
  InOrderWhileAway,
  QUEUES,
  type ReplyJob,
  UNCONFIRMED_REASON,
  isSameReply,
  jobKey,
  replyJobId,
  signalJobId,
  withJobInHand,
} from '@wxim/queue';
import { type ConversationLine, ReplyRecall, type StateKeys } from '@wxim/state';
import type { Queue } from 'bullmq';
import type { Redis, Cluster } from 'ioredis';

/**
 * A reply's id stays deduplicated this long: longer than any history a recovery looks through
 * (48 h, WeChat's reply window: an older reply could not be delivered anyway), so a reply seen
 * through its callback and found again in the history is stored once.
 */
export const REPLY_DEDUPE_MS = 50 * 3600 * 1000;

export { replyJobId } from '@wxim/queue';

/**
 * A typing signal's id stays deduplicated this long: IM does not send a callback again, and
 * agents type often, so these keys should not pile up for the replies' 50 hours.
 */
export const SIGNAL_DEDUPE_MS = 10 * 60 * 1000;

/** Why an after-send callback is not a reply to relay: said in the debug line. */
export type Skip = 'not_delivered' | 'not_from_agent' | 'to_agent' | 'relay_notice' | 'unknown_customer';

/** Why an online-only message (OnlineOnlyFlag 1) is not an agent's typing to relay. */
export type OnlineOnlySkip = 'not_from_agent' | 'to_agent' | 'not_typing';

/** What a store tried again was for: an agent's reply, or their typing or recall. */
export type StoreRetried = 'reply' | 'signal';

/**
 * Stores agents' replies in `agent-replies`, each once (job id from its MsgKey) and in its
 * customer's reply line (not their inbound line), before IM's callback is answered.
 */
export class ReplyStore {
  private readonly enqueuer: DurableEnqueuer<ReplyJob>;
  private readonly recall: ReplyRecall;
  /** A callback that comes while an earlier one waits to be tried again (Redis away) is stored after it. */
  private readonly inOrder = new InOrderWhileAway();

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: StateKeys,
    private readonly queue: Queue<ReplyJob>,
    line: ConversationLine,
    private readonly agents: ReadonlySet<string>,
    /** IM waits 2 s: past this the reply counts as not stored, and an error is answered. */
    private readonly timeoutMs: number,
    waitReplicas = 0,
    /** Whether sweeps run (CALLBACK_SWEEP_MS): they read, and trim, whom replies were stored for. */
    private readonly trackReplies = true,
    /** Told of each try again because Redis was away, of a reply or of an agent's typing or recall (a counter). */
    private readonly retrying: (what: StoreRetried) => void = () => {},
  ) {
    this.enqueuer = new DurableEnqueuer(queue, line, timeoutMs, waitReplicas, [], (jobs) => {
      for (const name of jobs) retrying(name === 'reply' ? 'reply' : 'signal');
    });
    this.recall = new ReplyRecall(redis, keys);
  }

  /** Closes the store's own connection. */
  close(): Promise<void> {
    return this.enqueuer.close();
  }

  /**
   * Whether the message may be a reply to a customer; the reason when not (no Redis needed). One
   * from an account not among IM_AGENTS (an agent removed since, a supervisor) to a customer is
   * stored too: the pusher never delivers it, and tells its sender so, rather than it vanishing.
   */
  skipOf(msg: AfterSendMsg): Skip | undefined {
    if (msg.sendMsgResult !== 0) return 'not_delivered';
    if (this.agents.has(msg.toAccount)) return 'to_agent';
    // The relay's own sends (a customer's words, a notice) say so in their CloudCustomData.
    if (decodeRelayCustomData(msg.cloudCustomData) !== undefined) return 'relay_notice';
    return undefined;
  }

  /**
   * What an online-only message is: an agent's typing to a customer (TUIKit's indicator), or why
   * it is not relayed. Never a reply: IM keeps no history of it, and the customer is not online
   * in IM, so its SendMsgResult says nothing about it.
   */
  signalOf(msg: AfterSendMsg): 'typing' | 'typing-stop' | OnlineOnlySkip {
    if (!this.agents.has(msg.fromAccount)) return 'not_from_agent';
    if (this.agents.has(msg.toAccount)) return 'to_agent';
    const typing = typingOf(msg.msgBody);
    if (typing === undefined) return 'not_typing';
    return typing ? 'typing' : 'typing-stop';
  }

  /** Whether a recall names a reply of its own sender to its own recipient, or one the relay has not stored. */
  private async recallOfItsOwn(msg: Pick<MsgWithdraw, 'fromAccount' | 'toAccount' | 'msgKey'>): Promise<boolean> {
    const data = await this.redis.hget(jobKey(this.keys.jobs(QUEUES.agentReplies), replyJobId(msg.msgKey)), 'data');
    if (data === null) return true;
    const reply = JSON.parse(data) as Pick<ReplyJob, 'agent' | 'userId'>;
    return reply.agent === msg.fromAccount && reply.userId === msg.toAccount;
  }

  /**
   * Stores an agent's signal (typing, or a recall) out of the customer's reply line; resolves to
   * its job id, or undefined when it is not from an agent to a customer of the relay. Throws as
   * `store` does when Redis did not answer within the budget.
   *
   * A recall is decided here, as it comes (see ReplyRecall), not when its job's turn in the queue
   * comes: a reply still held for its undo time is stopped however long the queue is. The job
   * carries the answer, for the pusher to tell the agent; a repeat decides the same again.
   */
  async storeSignal(signal: AgentSignal, msg: Pick<MsgWithdraw, 'fromAccount' | 'toAccount' | 'msgKey' | 'eventTime'>): Promise<string | undefined> {
    return this.withinBudget('signal', async (since) => {
      if (!this.agents.has(msg.fromAccount) || this.agents.has(msg.toAccount)) return undefined;
      const openid = await this.redis.hget(this.keys.openidOf, msg.toAccount);
      if (openid === null) return undefined;
      // IM's Sign covers no byte of the body: a recall names its reply by MsgKey, and stops it only
      // when it comes from that reply's agent in that reply's conversation (a captured callback URL
      // must not stop other agents' replies). A reply not stored yet cannot be asked.
      if (signal === 'recall' && !(await this.recallOfItsOwn(msg))) return undefined;
      const jobId = signalJobId(signal, msg.msgKey);
      const now = Date.now();
      const recall = signal === 'recall' ? await this.recall.withdraw(msg.msgKey, now) : undefined;
      await this.enqueuer.enqueue(
        {
          name: signal,
          jobId,
          dedupeTtlMs: signal === 'recall' ? REPLY_DEDUPE_MS : SIGNAL_DEDUPE_MS,
          data: {
            signal,
            ...(recall === undefined ? {} : { recall }),
            agent: msg.fromAccount,
            userId: msg.toAccount,
            openid,
            msgKey: msg.msgKey,
            msgTime: Math.floor((msg.eventTime ?? now) / 1000),
            body: [],
            acceptedAt: now,
            via: 'callback',
          },
        },
        undefined,
        since,
      );
      return jobId;
    });
  }

  /**
   * Stores the reply; resolves to its job id, or undefined when no customer of the relay has this
   * UserID. Throws when Redis did not answer within the budget, the customer's look-up included (a
   * reply stored after that is stored once all the same: the caller marks the time for a recovery).
   */
  async store(msg: AfterSendMsg, via: ReplyJob['via']): Promise<string | undefined> {
    return this.withinBudget('reply', (since) => this.storeNow(msg, via, since));
  }

  /**
   * `work` within the budget, begun again a few times a second while Redis is away (a restart, a
   * failover: im-callback's connection queues nothing while it is down, so its first look-up fails
   * at once). Each step of `work` is safe to repeat: look-ups, and a store whose job id makes a
   * repeat a no-op (a recall decides the same again).
   */
  private async withinBudget(what: StoreRetried, work: (since: number) => Promise<string | undefined>): Promise<string | undefined> {
    const since = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EnqueueTimeout(`Redis did not take the reply within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([
        this.inOrder.run(
          since + this.timeoutMs,
          () => work(since),
          () => this.retrying(what),
        ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A reply the wechat-pusher refused because IM's history did not show it in time (it trailed its
   * callback), found now in the history as the very message the job holds: tried again, from the
   * end of its customer's line. Resolves true when it was.
   */
  async reviveUnconfirmed(msg: AfterSendMsg): Promise<boolean> {
    const job = await this.queue.getJob(replyJobId(msg.msgKey));
    if (job === undefined || !job.failedReason?.startsWith(UNCONFIRMED_REASON)) return false;
    if (!isSameReply(job.data, msg)) return false;
    // Held while it moves, as a retry or removal by hand holds it (a removal that read it failed
    // must not remove it once back to run); one held by another hand is left to that hand.
    const revived = await withJobInHand(this.queue, job.id!, async () => {
      if ((await job.getState()) !== 'failed') return false;
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      return true;
    });
    return revived === true;
  }

  /** Whether a reply with this MsgKey was stored in the last {@link REPLY_DEDUPE_MS} (its id's deduplication key is there). */
  async isStored(msgKey: string): Promise<boolean> {
    return (await this.queue.getDeduplicationJobId(replyJobId(msgKey))) !== null;
  }

  private async storeNow(msg: AfterSendMsg, via: ReplyJob['via'], since: number): Promise<string | undefined> {
    const openid = await this.redis.hget(this.keys.openidOf, msg.toAccount);
    if (openid === null) return undefined;
    // A customer's own account writes only through the relay (its words, its notices: marked as
    // the relay's): anything else from one is no reply of anybody's.
    if (!this.agents.has(msg.fromAccount) && (await this.redis.hexists(this.keys.openidOf, msg.fromAccount)) === 1) return undefined;
    const jobId = replyJobId(msg.msgKey);
    // The agent is at work in this conversation: the next sweep looks through it, for replies
    // beside this one whose callbacks never came. Only a hint: a failure changes nothing else.
    if (via === 'callback' && this.trackReplies && this.agents.has(msg.fromAccount))
      void this.redis.zadd(this.keys.repliedCustomers, Date.now(), openid).catch(() => undefined);
    await this.enqueuer.enqueue(
      {
        name: 'reply',
        jobId,
        dedupeTtlMs: REPLY_DEDUPE_MS,
        lineOf: openid,
        data: {
          agent: msg.fromAccount,
          userId: msg.toAccount,
          openid,
          msgKey: msg.msgKey,
          msgTime: msg.msgTime,
          msgSeq: msg.msgSeq,
          msgRandom: msg.msgRandom,
          body: msg.msgBody,
          // '' when the message has none: a job without it is one of a release that did not keep it,
          // whose message a delivery mark must leave alone (it could erase the client's data).
          cloudCustomData: msg.cloudCustomData ?? '',
          acceptedAt: Date.now(),
          via,
        },
      },
      undefined,
      since,
    );
    return jobId;
  }
}
