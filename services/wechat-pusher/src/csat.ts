import { type Lease, LockLostError, type ReplyWindow, type StateKeys } from '@wxim/state';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CustomMessage,
  type WechatApi,
  WechatPermanentError,
  WechatRateLimitedError,
  WechatUncertainError,
  closeNumber,
  ratingQuestion,
  reasonOf,
} from '@wxim/wechat';
import type { Cluster, Redis } from 'ioredis';

/** How long a close's rating is kept, and answerable: a tap on an older question is stale and changes nothing. */
export const CSAT_KEPT_MS = 30 * 86_400_000;

interface Log {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface CsatDeps {
  redis: Redis | Cluster;
  keys: StateKeys;
  wechat: WechatApi;
  window: Pick<ReplyWindow, 'check' | 'consume' | 'exhaust' | 'close'>;
  /** CSAT_TEXT. */
  text: string;
  /** A WeChat call's turn under the fleet's pace, confirming the job's lock. */
  turn: (api: string, lease: Lease | undefined) => Promise<number>;
  log: Log;
}

/**
 * How long the question waits, at most, for the answer of the one call asking WeChat whether the
 * send quota is back (see DailyQuotas): as long as that call usually takes, timeouts included; past it
 * the question is not asked (logged), as when the quota is used up. The /close's job asks once,
 * so the question cannot wait in its queue as a reply does.
 */
export const CSAT_PROBE_WAIT_MS = 30_000;

/** Whether the rating question went out, for the agent's /close notice. */
export type CsatAsked = { asked: true } | { asked: false; why: string };

/** What the agent's /close notice adds about the rating question (nothing when none is asked). */
export function csatNote(asked: CsatAsked | undefined): string {
  if (asked === undefined) return '';
  return asked.asked ? ' The customer was asked to rate it.' : ` The customer was not asked to rate it: ${asked.why}.`;
}

/**
 * The rating question (CSAT) after an agent's /close: a menu message whose options, the scores 1
 * to 5, carry the close's number (see ratingOptionId), so the customer's tap, which comes back as
 * a push, is recorded against this close and this agent. Asked once: the /close that closed runs
 * it, and custom/send is never repeated (not idempotent). A question that cannot go out (the
 * customer's window closed or used up, WeChat refused or did not answer) is skipped with a log
 * line; the /close stands either way.
 */
export class CsatQuestion {
  constructor(private readonly deps: CsatDeps) {}

  async ask(openid: string, agent: string, lease: Lease | undefined): Promise<CsatAsked> {
    const { redis, keys, window, log } = this.deps;
    let key: string | undefined;
    let lastActionAt: number | undefined;
    let close: string | undefined;
    let sent = false;
    try {
      const open = await window.check(openid, Date.now());
      // No record ('never': the customer wrote before the relay kept windows) is left to WeChat.
      if (!open.open && open.reason !== 'never') return skipped(log, openid, agent, reasonOf(open.reason === 'quota_used' ? 45047 : 45015));
      lastActionAt = open.open ? open.lastActionAt : undefined;
      close = closeNumber(await redis.incr(keys.csatSeq));
      key = keys.csat(close);
      // Recorded before the question leaves: a tap can come back before the send returns.
      await redis
        .multi()
        .hset(key, { openid, agent, closedAt: String(Date.now()) })
        .pexpire(key, CSAT_KEPT_MS)
        .exec();
      sent = await this.send(ratingQuestion(openid, this.deps.text, close), lease);
      if (!sent) return await this.forget(key, openid, agent, 'its turn to call WeChat was refused');
      await window.consume(openid, Date.now());
      await redis.hset(key, 'askedAt', String(Date.now()));
      log.info({ openid, agent, close }, 'rating question sent');
      return { asked: true };
    } catch (err) {
      // WeChat took the question, and what follows failed (Redis gone): it was asked, and its
      // record stays so the customer's tap counts (the window's count of replies misses this one).
      if (sent) {
        log.warn({ openid, agent, close, reason: (err as Error).message }, 'rating question sent; recording it failed, its record kept');
        return { asked: true };
      }
      // The job is no longer this worker's (checked right before the send, so nothing went): the
      // attempt that has it asks. Its record goes; the caller hears it.
      if (err instanceof LockLostError) {
        if (key !== undefined) await redis.del(key).catch(() => undefined);
        throw err;
      }
      if (err instanceof WechatUncertainError) {
        // It may have arrived: the record stays, so a tap on it still counts.
        log.warn({ openid, agent, reason: err.message }, 'rating question: WeChat did not answer; it may have arrived and is not sent again');
        return { asked: false, why: 'WeChat did not answer, so it may or may not have arrived' };
      }
      if (err instanceof WechatPermanentError) {
        if (err.code === 45047) await window.exhaust(openid, lastActionAt).catch(() => undefined);
        if (err.code === 45015) await window.close(openid, lastActionAt).catch(() => undefined);
      }
      const why = err instanceof WechatPermanentError ? reasonOf(err.code) : (err as Error).message;
      return key === undefined ? skipped(log, openid, agent, why) : await this.forget(key, openid, agent, why);
    }
  }

  /** Sends the question; while one call asks WeChat whether the quota is back, waits for its answer (a while at most). */
  private async send(question: CustomMessage, lease: Lease | undefined): Promise<boolean> {
    const until = Date.now() + CSAT_PROBE_WAIT_MS;
    for (;;) {
      try {
        return await this.deps.wechat.sendCustom(question, { beforeSend: async (api) => (await this.deps.turn(api, lease)) >= 0 });
      } catch (err) {
        if (!(err instanceof WechatRateLimitedError) || !err.awaitsProbe || Date.now() + err.retryAfterMs > until) throw err;
        await sleep(err.retryAfterMs);
      }
    }
  }

  /** A question that surely did not go out: its record goes (nothing can answer it). */
  private async forget(key: string, openid: string, agent: string, why: string): Promise<CsatAsked> {
    await this.deps.redis.del(key).catch(() => undefined);
    return skipped(this.deps.log, openid, agent, why);
  }
}

function skipped(log: Log, openid: string, agent: string, why: string): CsatAsked {
  log.info({ openid, agent, reason: why }, 'rating question not sent');
  return { asked: false, why };
}
