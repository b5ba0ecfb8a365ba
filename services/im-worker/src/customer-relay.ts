import { type C2CMessage, type ImClient, ImNotImportedError, ImPermanentError } from '@wxim/im';
import { type AgentLoad, type Customer, type IdentityMap, imMessageIds } from '@wxim/relay';
import type { WechatMessage } from '@wxim/wechat';
import { cloudCustomData, toImBody } from './message-mapping.js';

/** What identifies a push to IM: its dedupe id (the job id) and its place in the store order (see RelayTurn). */
export interface PushIds {
  dedupeId: string;
  place: number;
}

type MessageIds = ReturnType<typeof imMessageIds>;

export interface RelayResult {
  outcome: 'relayed' | 'skipped';
  userId?: string;
  agent?: string;
  reason?: string;
}

const REIMPORT_REFUSED = 70399;

/**
 * One customer's push to their agent in IM: the customer's IM account (imported on follow and on
 * first sight — a follow imports again even when we think it is there — and a new UserID when IM
 * refuses to re-import a deleted one), and
 * the one-to-one message with MsgSeq/MsgRandom derived from the push so that IM absorbs a resend.
 */
export class CustomerRelay {
  /** Past this since a message's first attempt, IM may no longer drop a resend as a duplicate. */
  private readonly lookFirstAfterMs: number;

  constructor(
    private readonly im: ImClient,
    private readonly identities: IdentityMap,
    private readonly agentLoad: AgentLoad,
    private readonly onUnsubscribe: 'delete' | 'keep',
    /** IM drops a repeat of (sender, MsgSeq, MsgRandom, content) for 120 s. */
    imDuplicateWindowMs = 120_000,
  ) {
    this.lookFirstAfterMs = imDuplicateWindowMs * 0.8;
  }

  /**
   * `customer`: the identity map's record, with the agent assigned; `firstAttemptAt`: when this
   * message first tried to relay (see RelayTurn).
   */
  async relay(message: WechatMessage, push: PushIds, customer: Customer, firstAttemptAt = Date.now()): Promise<RelayResult> {
    const body = toImBody(message);
    if (body === null) return { outcome: 'skipped', reason: `${message.kind} is not relayed` };
    const openid = message.fromUserName;
    const ids = imMessageIds(push.dedupeId, push.place);
    if (message.kind === 'unsubscribe') return this.unfollow(openid, message, ids, customer, firstAttemptAt);
    const agent = customer.agent;
    if (agent === undefined) throw new Error('no agent assigned');
    let userId = customer.imported && message.kind !== 'subscribe' ? customer.userId : await this.importAs(openid, customer.userId);
    const send = () => this.send({ from: userId, to: agent, ...ids, body, cloudCustomData: cloudCustomData(message) }, firstAttemptAt);
    try {
      await send();
    } catch (err) {
      if (!(err instanceof ImNotImportedError)) throw err;
      // IM lost the account (deleted in the console, or our record is stale): import (under a
      // new UserID if IM refuses the old one), resend once.
      userId = await this.importAs(openid, userId);
      await send();
    }
    return { outcome: 'relayed', userId, agent };
  }

  private async importAs(openid: string, userId: string): Promise<string> {
    try {
      await this.im.importAccount(userId);
    } catch (err) {
      if (!(err instanceof ImPermanentError) || err.code !== REIMPORT_REFUSED) throw err;
      // Pro editions refuse a deleted UserID for 3 months: the returning follower gets a new one.
      userId = await this.identities.nextUserId(openid);
      await this.im.importAccount(userId);
    }
    await this.identities.markImported(openid, userId);
    return userId;
  }

  /**
   * Sends once. A resend within IM's duplicate window is absorbed by IM; past it, an earlier
   * attempt whose answer was lost may have been delivered, so the history is looked up first.
   */
  private async send(msg: C2CMessage, firstAttemptAt: number): Promise<void> {
    const now = Date.now();
    if (now - firstAttemptAt > this.lookFirstAfterMs) {
      const minTime = Math.floor(firstAttemptAt / 1000) - 60;
      if (await this.im.hasC2CMessage(msg.from, msg.to, msg.msgSeq, msg.msgRandom, minTime, Math.ceil(now / 1000) + 60)) return;
    }
    await this.im.sendC2C(msg);
  }

  private async unfollow(openid: string, message: WechatMessage, ids: MessageIds, customer: Customer, firstAttemptAt: number): Promise<RelayResult> {
    const agent = customer.agent;
    if (!customer.imported || agent === undefined) {
      await this.agentLoad.release(openid);
      return { outcome: 'skipped', reason: 'unfollow of a customer the relay never imported' };
    }
    try {
      await this.send({ from: customer.userId, to: agent, ...ids, body: toImBody(message)!, cloudCustomData: cloudCustomData(message) }, firstAttemptAt);
    } catch (err) {
      // On a retry the account may already be gone (our own earlier attempt deleted it).
      if (!(err instanceof ImNotImportedError)) throw err;
    }
    if (this.onUnsubscribe === 'delete') {
      await this.im.deleteAccounts([customer.userId]);
      await this.identities.markDeleted(openid);
    }
    // No longer one of the agent's customers; should they follow again, they come back to them.
    await this.agentLoad.release(openid);
    return { outcome: 'relayed', userId: customer.userId, agent };
  }
}
