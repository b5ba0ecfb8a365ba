import { type ImClient, ImNotImportedError, ImPermanentError } from '@wxim/im';
import { type AgentAssignment, type IdentityMap, imMessageIds } from '@wxim/relay';
import type { WechatMessage } from '@wxim/wechat';
import { cloudCustomData, toImBody } from './message-mapping.js';

export interface RelayResult {
  outcome: 'relayed' | 'skipped';
  userId?: string;
  agent?: string;
  reason?: string;
}

const REIMPORT_REFUSED = 70399;

/**
 * One customer's push to their agent in IM: the customer's IM account (imported on follow and on
 * first sight, a new UserID when IM refuses to re-import a deleted one), their sticky agent, and
 * the one-to-one message with MsgSeq/MsgRandom derived from the push so that IM absorbs a resend.
 */
export class CustomerRelay {
  constructor(
    private readonly im: ImClient,
    private readonly identities: IdentityMap,
    private readonly assignment: AgentAssignment,
    private readonly onUnsubscribe: 'delete' | 'keep',
  ) {}

  async relay(message: WechatMessage, dedupeId: string): Promise<RelayResult> {
    const body = toImBody(message);
    if (body === null) return { outcome: 'skipped', reason: `${message.kind} is not relayed` };
    const openid = message.fromUserName;
    if (message.kind === 'unsubscribe') return this.unfollow(openid, message, dedupeId);
    const userId = await this.ensureImported(openid, message.kind === 'subscribe');
    const agent = await this.assignment.agentFor(openid);
    const send = () => this.im.sendC2C({ from: userId, to: agent, ...imMessageIds(dedupeId), body, cloudCustomData: cloudCustomData(message) });
    try {
      await send();
    } catch (err) {
      if (!(err instanceof ImNotImportedError)) throw err;
      // IM lost the account (deleted in the console, or our record is stale): import, resend once.
      await this.importAs(openid, userId);
      await send();
    }
    return { outcome: 'relayed', userId, agent };
  }

  /** The customer's UserID, imported into IM. A follow imports again even when we think it is there. */
  private async ensureImported(openid: string, always: boolean): Promise<string> {
    const customer = await this.identities.get(openid);
    if (customer.imported && !always) return customer.userId;
    return this.importAs(openid, customer.userId);
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

  private async unfollow(openid: string, message: WechatMessage, dedupeId: string): Promise<RelayResult> {
    const customer = await this.identities.get(openid);
    if (!customer.imported) return { outcome: 'skipped', reason: 'unfollow of a customer the relay never imported' };
    const agent = await this.assignment.agentFor(openid);
    try {
      await this.im.sendC2C({
        from: customer.userId,
        to: agent,
        ...imMessageIds(dedupeId),
        body: toImBody(message)!,
        cloudCustomData: cloudCustomData(message),
      });
    } catch (err) {
      // On a retry the account may already be gone (our own earlier attempt deleted it).
      if (!(err instanceof ImNotImportedError)) throw err;
    }
    if (this.onUnsubscribe === 'delete') {
      await this.im.deleteAccounts([customer.userId]);
      await this.identities.markDeleted(openid);
    }
    return { outcome: 'relayed', userId: customer.userId, agent };
  }
}
