import { WechatApiError } from './wechat-api-error.js';

const HOUR = 3_600_000;
/** China Standard Time (UTC+8, no daylight saving): when WeChat's days begin. */
const CST_OFFSET = 8 * HOUR;

/** Milliseconds from `now` to the next midnight in China, when WeChat's daily quotas begin again. */
export function msToChinaMidnight(now: number): number {
  return 24 * HOUR - ((now + CST_OFFSET) % (24 * HOUR));
}

/** 45009: the API's daily quota is used up; 45011: too many calls this minute. */
export class WechatRateLimitedError extends WechatApiError {
  override readonly name = 'WechatRateLimitedError';
  readonly kind = 'rate_limited';
  constructor(
    api: string,
    code: number,
    info: string,
    /** How long the caller holds the API back already (see DailyQuotas): the wait, in place of the day's end. */
    private readonly heldMs?: number,
    /**
     * Not WeChat's answer but the client's (DailyQuotas): `held`, WeChat said so last; `probe`, one
     * call is asking WeChat again right now, so what holds for this call is not known yet.
     */
    readonly local?: 'held' | 'probe',
  ) {
    super(api, code, info);
  }

  /** 45009: the API's quota for the day is used up, as WeChat said (or the client remembers). */
  get dailyQuota(): boolean {
    return this.code === 45009;
  }

  /** A refusal that decides nothing: another call is asking WeChat whether the quota is back. The call waits for that answer. */
  get awaitsProbe(): boolean {
    return this.local === 'probe';
  }

  /** How long to hold back, in ms: a minute for 45011; for 45009, until the next midnight in China, or as long as the API is held back. */
  get retryAfterMs(): number {
    if (!this.dailyQuota) return 60_000;
    return this.heldMs ?? msToChinaMidnight(Date.now());
  }
}
