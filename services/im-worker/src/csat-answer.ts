import type { RedisClient } from '@wxim/queue';
import type { StateKeys } from '@wxim/state';
import type { RatingAnswer } from '@wxim/wechat';
import type { Counter } from 'prom-client';

/**
 * What became of a tap on a rating question: `counted`, the close's first answer; `repeated`, the
 * close was answered before (the first answer stands); `unknown`, no such close is kept (never
 * asked, or older than the ratings are kept); `not_theirs`, the close was another customer's.
 */
export type CsatAnswerOutcome = 'counted' | 'repeated' | 'unknown' | 'not_theirs';

interface Log {
  info(fields: object, message: string): void;
}

export interface CsatAnswerDeps {
  redis: RedisClient;
  keys: StateKeys;
  /** wxim_desk_csat_answers_total{score}: each close's first answer. */
  answers: Counter<'score'>;
  log: Log;
}

/**
 * Records the customer's answer to a rating question against the close it was asked for (the
 * record the wechat-pusher wrote when it asked). Never a conversation: no agent, no line, no
 * waiting. Each close counts once, whatever the customer taps later and however often the push's
 * job runs.
 */
export class CsatAnswers {
  constructor(private readonly deps: CsatAnswerDeps) {}

  async record(answer: RatingAnswer): Promise<CsatAnswerOutcome> {
    const { redis, keys, log } = this.deps;
    const key = keys.csat(answer.close);
    const [[, openid], [, ttl]] = (await redis.multi().hget(key, 'openid').pttl(key).exec()) as [[null, string | null], [null, number]];
    const outcome = await (async (): Promise<CsatAnswerOutcome> => {
      if (openid === null) return 'unknown';
      if (openid !== answer.fromUserName) return 'not_theirs';
      const [[, first]] = (await redis
        .multi()
        .hsetnx(key, 'score', String(answer.score))
        .hsetnx(key, 'answeredAt', String(answer.createTime * 1000))
        // Should the record have expired meanwhile, what these wrote goes when it would have.
        .pexpire(key, Math.max(ttl, 1))
        .exec()) as [[null, number]];
      return first === 1 ? 'counted' : 'repeated';
    })();
    if (outcome === 'counted') this.deps.answers.inc({ score: String(answer.score) });
    log.info({ openid: answer.fromUserName, close: answer.close, score: answer.score, outcome }, 'rating answer');
    return outcome;
  }
}
