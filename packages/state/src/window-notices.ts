import type { Cluster, Redis } from 'ioredis';
import { type RelayScripts, relayScripts } from '@wxim/redis-scripts';
import type { StateKeys } from './keys.js';
import { REPLY_GRANTS } from './reply-window.js';

/** How many customers the watch holds at most: a bound on its memory (about 100 bytes each). */
export const WATCH_CAP = 200_000;

/** A window's notice key outlives the window by this much, so that a late run of a job still finds it taken. */
const NOTICE_MARGIN_MS = 10 * 60 * 1000;

/** A customer whose window closes soon. */
export interface WatchedWindow {
  openid: string;
  deadline: number;
}

const ms = (value: number) => Math.floor(value).toFixed(0);

/**
 * When the agent is told about a customer's reply window (ReplyWindow): when a delivered reply used
 * the last one WeChat allows until the customer writes again, or when the window closes soon with
 * the customer's last message unanswered. At most one of these per window (a customer's message
 * opens the next): the first to claim it in Redis (SET NX, in a script) tells. The im-worker
 * watches a customer whose message it relayed (RelayedMessage), the pusher unwatches one it delivered a reply to,
 * and one check of the fleet at a time looks for the windows closing soon.
 */
export class WindowNotices {
  private readonly scripts: RelayScripts;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: StateKeys,
  ) {
    this.scripts = relayScripts(redis);
  }

  /**
   * A reply its agent sent at `sentAtMs` (IM's MsgTime) reached the customer: their last message is
   * answered, unless they wrote it after the reply was sent.
   */
  async answered(openid: string, sentAtMs: number): Promise<void> {
    await this.scripts.wximWindowAnswered(this.keys.replyWindow(openid), this.keys.windowWatch, openid, ms(sentAtMs), REPLY_GRANTS.message.ms);
  }

  /**
   * After reply `jobId` was delivered: whether it used the last reply of the window and the window's
   * notice is its to give (claimed now, or by this same job before).
   */
  async claimLastReply(openid: string, jobId: string, nowMs: number): Promise<boolean> {
    const deadline = await this.redis.hget(this.keys.replyWindow(openid), 'deadline');
    if (deadline === null || !(Number(deadline) > nowMs)) return false;
    const key = this.keys.windowNotice(openid, Number(deadline));
    return (await this.scripts.wximWindowLastReplyClaim(this.keys.replyWindow(openid), key, deadline, ms(nowMs), jobId, NOTICE_MARGIN_MS)) === 1;
  }

  /** The watched windows closing within `withinMs` of now, soonest first. */
  async closingSoon(nowMs: number, withinMs: number, count: number): Promise<WatchedWindow[]> {
    await this.redis.zremrangebyscore(this.keys.windowWatch, '-inf', ms(nowMs));
    const found = await this.redis.zrangebyscore(this.keys.windowWatch, `(${ms(nowMs)}`, ms(nowMs + withinMs), 'WITHSCORES', 'LIMIT', 0, count);
    const windows: WatchedWindow[] = [];
    for (let i = 0; i < found.length; i += 2) windows.push({ openid: found[i]!, deadline: Number(found[i + 1]) });
    return windows;
  }

  /**
   * Whether to warn of `w` closing: still that window, open, with replies left, its last message
   * unanswered and its notice not taken by a last reply. Claims the notice; a claim whose warning
   * may not have gone (a check that stopped) is given again.
   */
  async claimWarning(w: WatchedWindow, nowMs: number): Promise<boolean> {
    const { keys } = this;
    return (
      (await this.scripts.wximWindowWarnClaim(
        keys.replyWindow(w.openid),
        keys.windowWatch,
        keys.windowNotice(w.openid, w.deadline),
        w.openid,
        ms(w.deadline),
        ms(nowMs),
        REPLY_GRANTS.message.ms,
        NOTICE_MARGIN_MS,
      )) === 1
    );
  }

  /** The warning of `w` was given: it is watched no more (unless a newer message moved it). */
  async warned(w: WatchedWindow): Promise<void> {
    await this.scripts.wximWindowWarned(this.keys.windowWatch, w.openid, ms(w.deadline));
  }
}
