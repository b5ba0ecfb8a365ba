import type { Cluster, Redis } from 'ioredis';
import type { StateKeys } from './keys.js';
import { type RelayScripts, relayScripts } from '@wxim/redis-scripts';

/**
 * What a customer's action lets the Official Account send through the customer-service API
 * (rules since June 2023): a message, 5 replies within 48 hours; a follow, a QR code scan or a
 * click on a click/scan-push menu item, 3 replies within 1 minute.
 */
export const REPLY_GRANTS = {
  message: { replies: 5, ms: 48 * 60 * 60 * 1000 },
  action: { replies: 3, ms: 60 * 1000 },
} as const;

export type CustomerAction = keyof typeof REPLY_GRANTS;

export type ReplyWindowState =
  /** `lastActionAt`: the time of the action the window was last opened or widened by. */
  { open: true; remaining: number; deadline: number; lastActionAt: number } | { open: false; reason: 'window_closed' | 'quota_used' | 'never' };

/** How long the key outlives its deadline, so that a late duplicate of the last action is still seen as one. */
const KEY_MARGIN_MS = 60 * 1000;

function ms(value: number): string {
  return Math.floor(value).toFixed(0);
}

/** A customer's action as the record script takes it: what opens their reply window, and when. */
export interface ActionRecord {
  kind: CustomerAction;
  atMs: number;
  /** Tells two actions of the same second apart from one action recorded twice (the push's job id). */
  id: string;
}

/** The record script's arguments after the keys and the openid's place: see recordAction in the scripts. */
export function actionArgs(action: ActionRecord): { at: string; replies: number; periodMs: number; marginMs: number; recentMs: number; id: string } {
  const grant = REPLY_GRANTS[action.kind];
  return {
    at: ms(action.atMs),
    replies: grant.replies,
    periodMs: grant.ms,
    marginMs: KEY_MARGIN_MS,
    recentMs: REPLY_GRANTS.message.ms,
    id: action.id.replace(/[,@]/g, '_'),
  };
}

/**
 * The customer-service window of each customer, in Redis: when the relay may still reply through
 * WeChat's customer-service API and how many replies are left, kept in step with WeChat by the
 * customer's actions (record), the replies sent (consume) and WeChat's refusals (exhaust, close).
 * Every change is one atomic script; times are passed in (the push's CreateTime, the sender's clock).
 */
export class ReplyWindow {
  private readonly commands: RelayScripts;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: StateKeys,
  ) {
    this.commands = relayScripts(redis);
  }

  /**
   * Records the customer's action at `atMs`: a message, or a follow, QR code scan or menu click
   * ('action'). `actionId` (the push's job id) tells two actions of the same second apart from
   * one action recorded twice. An action older than the newest recorded (its push stored later)
   * still widens the window, as WeChat counted it (see recordAction in the scripts). Returns false
   * when this action is already recorded, WeChat closed the window since, or it is more than ten
   * minutes older than the newest.
   */
  async record(openid: string, kind: CustomerAction, atMs: number, actionId = String(atMs)): Promise<boolean> {
    const a = actionArgs({ kind, atMs, id: actionId });
    return (
      (await this.commands.wximReplyRecord(
        this.keys.replyWindow(openid),
        this.keys.recentCustomers,
        a.at,
        a.replies,
        a.periodMs,
        a.marginMs,
        openid,
        a.recentMs,
        a.id,
      )) === 1
    );
  }

  async check(openid: string, nowMs: number): Promise<ReplyWindowState> {
    const [at, remaining, deadline] = await this.redis.hmget(this.keys.replyWindow(openid), 'at', 'remaining', 'deadline');
    if (at === null || remaining === null || deadline === null) return { open: false, reason: 'never' };
    if (Number(deadline) <= nowMs) return { open: false, reason: 'window_closed' };
    if (Number(remaining) <= 0) return { open: false, reason: 'quota_used' };
    return { open: true, remaining: Number(remaining), deadline: Number(deadline), lastActionAt: Number(at) };
  }

  /** After WeChat confirmed a send: one reply fewer. Returns the replies left (0 when none or no window is open). */
  async consume(openid: string, nowMs: number): Promise<number> {
    return Math.max(0, await this.commands.wximReplyConsume(this.keys.replyWindow(openid), ms(nowMs)));
  }

  /**
   * After WeChat answered 45047 (quota used up): no replies left in this window. With
   * `lastActionAt` (from check), only if no newer action has opened the window again meanwhile.
   */
  async exhaust(openid: string, lastActionAt?: number): Promise<void> {
    await this.commands.wximReplyEnd(this.keys.replyWindow(openid), 'remaining', lastActionAt === undefined ? '' : ms(lastActionAt));
  }

  /** After WeChat answered 45015 (window expired, or the customer unfollowed): the window is closed. As exhaust for `lastActionAt`. */
  async close(openid: string, lastActionAt?: number): Promise<void> {
    await this.commands.wximReplyEnd(this.keys.replyWindow(openid), 'deadline', lastActionAt === undefined ? '' : ms(lastActionAt));
  }
}
