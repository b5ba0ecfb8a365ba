import { WechatApiError } from './wechat-api-error.js';

const HOUR = 3_600_000;
/** China Standard Time (UTC+8, no daylight saving): when WeChat's days begin. */
const CST_OFFSET = 8 * HOUR;

/** 45009: the API's daily quota is used up; 45011: too many calls this minute. */
export class WechatRateLimitedError extends WechatApiError {
  override readonly name = 'WechatRateLimitedError';
  readonly kind = 'rate_limited';
  /** How long to hold back, in ms: a minute for 45011; for 45009, until the next midnight in China. */
  get retryAfterMs(): number {
    if (this.code !== 45009) return 60_000;
    const now = Date.now();
    const sinceMidnight = (now + CST_OFFSET) % (24 * HOUR);
    return 24 * HOUR - sinceMidnight;
  }
}
