import { type C2CMessage, type CallOptions, type ImClient, ImNotImportedError, ImPermanentError } from '@wxim/im';
import { type AgentLoad, type Customer, type IdentityMap, imMessageIds } from '@wxim/state';
import type { WechatMessage } from '@wxim/wechat';
import { cloudCustomData, toImBody } from './message-mapping.js';
import { partsOf } from './long-text.js';

/** Between the parts of a long text: past a second of IM's clock, so its history shows them in order. */
const PART_GAP_MS = 1100;
import type { CustomerMedia } from './customer-media.js';

/** One job's relay: what identifies its push to IM, who the customer is, and the check before each call. */
export interface RelayJob {
  /** The push's dedupe id (the job id): MsgRandom comes from it. */
  dedupeId: string;
  /** The job's place in the store order when it first tried (see RelayTurn): its MsgSeq. */
  place: number;
  /** When the job first tried to relay, ms on Redis's clock. */
  firstAttemptAt: number;
  /** This attempt of the job, from 1 (a step aside for the customer's turn is not an attempt). */
  attempt: number;
  /** The job's attempts in all. */
  attempts: number;
  /** The identity map's record, with the agent assigned. */
  customer: Customer;
  /** The agent the job's first attempt went to (see RelayTurn.begin): another one's messages take ids of their own. */
  firstAgent?: string;
  /**
   * Right before each IM call: waits for the call's turn under IM's rate cap, confirms the job is
   * still this worker's (throws LockLostError when another worker has taken it over) and resolves
   * to Redis's time (ms).
   */
  confirm(command: string, continuing?: boolean): Promise<number>;
  /** Right before each WeChat call (a voice's or video's download): the fleet's WeChat pace and the lock check. */
  wechatTurn?(api: string): Promise<unknown>;
}

export interface RelayResult {
  outcome: 'relayed' | 'skipped';
  userId?: string;
  agent?: string;
  reason?: string;
  /** The agent an earlier attempt sent to, when this one went to another (the customer was handed on between them). */
  handedOnFrom?: string;
  /** What went wrong that nobody is told in IM, for the log (e.g. an unfollow's note that could not go). */
  warning?: string;
}

const REIMPORT_REFUSED = 70399;

/** Call options that confirm the job is still ours right before the call leaves. */
function guardedBy(job: RelayJob): CallOptions {
  return {
    beforeSend: async (command) => {
      await job.confirm(command);
      return true;
    },
  };
}

/**
 * One customer's push to their agent in IM: the customer's IM account (imported on follow and on
 * first sight — a follow imports again even when we think it is there — and a new UserID when IM
 * refuses to re-import a deleted one), and the one-to-one message with MsgSeq/MsgRandom fixed per
 * push so that IM absorbs a resend.
 */
export class CustomerRelay {
  /** Past this since a message's first attempt, IM may no longer drop a resend as a duplicate. */
  private readonly lookFirstAfterMs: number;

  constructor(
    private readonly im: ImClient,
    private readonly identities: IdentityMap,
    private readonly agentLoad: AgentLoad,
    private readonly onUnsubscribe: 'delete' | 'keep',
    /** IM_AGENTS: an unfollow's note goes only to one of them. */
    private readonly agents: readonly string[],
    /** IM drops a repeat of (sender, MsgSeq, MsgRandom, content) for 120 s. */
    imDuplicateWindowMs = 120_000,
    /** Customers' voice and video as elements the agent opens (MEDIA_PUBLIC_URL); text notes without. */
    private readonly media?: CustomerMedia,
  ) {
    this.lookFirstAfterMs = imDuplicateWindowMs * 0.8;
  }

  async relay(message: WechatMessage, job: RelayJob): Promise<RelayResult> {
    const media =
      this.media === undefined
        ? undefined
        : await this.media.element(message, {
            firstAttemptAt: job.firstAttemptAt,
            attempt: job.attempt,
            attempts: job.attempts,
            turn: (api) => job.wechatTurn?.(api) ?? Promise.resolve(),
          });
    const body = toImBody(message, media);
    if (body === null) return { outcome: 'skipped', reason: `${message.kind} is not relayed` };
    const openid = message.fromUserName;
    const guarded = guardedBy(job);
    const { customer } = job;
    // A customer handed on since the first attempt: to their new agent, this is a new message.
    const handedOn = customer.agent !== undefined && job.firstAgent !== undefined && customer.agent !== job.firstAgent;
    const { msgSeq, msgRandom } = imMessageIds(job.dedupeId, job.place, handedOn ? customer.agent : undefined);
    if (message.kind === 'unsubscribe') {
      if (!customer.imported || customer.userId === undefined || customer.agent === undefined) {
        await this.agentLoad.release(openid);
        return { outcome: 'skipped', reason: 'unfollow of a customer the relay never imported' };
      }
      const msg = { from: customer.userId, to: customer.agent, msgSeq, msgRandom, body, cloudCustomData: cloudCustomData(message) };
      const { result, sent } = await this.unfollow(openid, msg, customer.userId, job, guarded);
      return handedOn && sent ? { ...result, handedOnFrom: job.firstAgent! } : result;
    }
    const agent = customer.agent;
    if (agent === undefined) throw new Error('no agent assigned');
    let userId = customer.userId ?? (await this.identities.claim(openid));
    if (!customer.imported || message.kind === 'subscribe') userId = await this.importAs(openid, userId, guarded);
    const send = () => this.sendParts({ from: userId, to: agent, msgSeq, msgRandom, body, cloudCustomData: cloudCustomData(message) }, job);
    try {
      await send();
    } catch (err) {
      if (!(err instanceof ImNotImportedError)) throw err;
      // IM lost the account (deleted in the console, or our record is stale): import (under a
      // new UserID if IM refuses the old one), resend once.
      userId = await this.importAs(openid, userId, guarded);
      await send();
    }
    return { outcome: 'relayed', userId, agent, ...(handedOn ? { handedOnFrom: job.firstAgent! } : {}) };
  }

  private async importAs(openid: string, userId: string, guarded: CallOptions): Promise<string> {
    try {
      await this.im.importAccount(userId, guarded);
    } catch (err) {
      if (!(err instanceof ImPermanentError) || err.code !== REIMPORT_REFUSED) throw err;
      // Pro editions refuse a deleted UserID for 3 months: the returning follower gets a new one.
      userId = await this.identities.nextUserId(openid);
      await this.im.importAccount(userId, guarded);
    }
    await this.identities.markImported(openid);
    return userId;
  }

  /**
   * Sends the message, as several when its body is over IM's size (a long text: see partsOf), in
   * order: part i's MsgRandom is the message's plus i (each part fixed for every attempt, so IM
   * drops a part sent again, and a look in the history finds it), all under the message's MsgSeq,
   * each at least PART_GAP_MS after the one before so that IM, which orders a second's messages by
   * MsgSeq, dates them in order. Once the first part has gone, the rest follow it to the same
   * agent, whoever serves the customer by then: a text is never split between two agents.
   */
  private async sendParts(msg: C2CMessage, job: RelayJob): Promise<void> {
    const parts = partsOf(msg.body);
    for (const [i, body] of parts.entries()) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, PART_GAP_MS));
      await this.send({ ...msg, body, msgRandom: (msg.msgRandom + i) % 2 ** 32 }, job, i > 0);
    }
  }

  /**
   * Sends once. A resend within IM's duplicate window is absorbed by IM; past it, an earlier
   * attempt whose answer was lost may have been delivered, so the history is looked up first. The
   * look-up is decided at the last moment, once the call's turn under the rate cap has come, on
   * Redis's clock; after a look-up (IM round trips, perhaps several pages) the send takes its
   * turn again, so the lock check and the pace still come right before it leaves.
   */
  private async send(msg: C2CMessage, job: RelayJob, continuing = false): Promise<void> {
    await this.im.sendC2C(msg, {
      beforeSend: async (command) => {
        const now = await job.confirm(command, continuing);
        if (now - job.firstAttemptAt <= this.lookFirstAfterMs) return true;
        // A minute of margin each side: IM's clock is not Redis's.
        const minTime = Math.floor(job.firstAttemptAt / 1000) - 60;
        const found = await this.im.hasC2CMessage(msg.from, msg.to, msg.msgSeq, msg.msgRandom, minTime, Math.ceil(now / 1000) + 60, guardedBy(job));
        if (found) return false;
        await job.confirm(command, continuing);
        return true;
      },
    });
  }

  /** `sent`: whether the unfollow's message went now (not when an earlier attempt had deleted the account). */
  private async unfollow(
    openid: string,
    msg: C2CMessage,
    userId: string,
    job: RelayJob,
    guarded: CallOptions,
  ): Promise<{ result: RelayResult; sent: boolean }> {
    let sent = true;
    let warning: string | undefined;
    try {
      // An agent who left IM_AGENTS (a redeploy since the customer wrote) is no longer at the desk:
      // nobody there is to be told, and the note is not sent to an account nobody watches.
      if (!this.agents.includes(msg.to)) {
        sent = false;
        warning = `the unfollow's note did not go: its agent ${msg.to} is no longer one of IM_AGENTS`;
      } else await this.send(msg, job);
    } catch (err) {
      if (!(err instanceof ImNotImportedError)) throw err;
      if ((await this.identities.deletingBy(openid)) === job.dedupeId) {
        // Gone by this job's own hand: an earlier attempt sent the note, then deleted the account.
        sent = false;
      } else {
        // Gone otherwise (deleted in IM's console, our record stale): imported again, the agent still
        // told; unless the agent's own account is what IM lacks, and the note cannot go at all.
        userId = await this.importAs(openid, userId, guarded);
        try {
          await this.send({ ...msg, from: userId }, job);
        } catch (again) {
          if (!(again instanceof ImNotImportedError)) throw again;
          sent = false;
          warning = `the unfollow's note could not go: IM has no account for agent ${msg.to} (${again.code})`;
        }
      }
    }
    if (this.onUnsubscribe === 'delete') {
      await this.identities.markDeleting(openid, job.dedupeId);
      await this.im.deleteAccounts([userId], guarded);
      await this.identities.markDeleted(openid);
    }
    // No longer one of the agent's customers; should they follow again, they come back to them.
    await this.agentLoad.release(openid);
    const result: RelayResult =
      warning === undefined ? { outcome: 'relayed', userId, agent: msg.to } : { outcome: 'skipped', userId, agent: msg.to, reason: warning, warning };
    return { result, sent };
  }
}
