import { WechatRateLimitedError, msToChinaMidnight } from './errors/rate-limited-error.js';

/**
 * How long an API whose daily quota WeChat said is used up (45009) is left alone before one call
 * tries it again: an operator may reset the quota (WeChat's clear_quota) before the day ends.
 */
export const QUOTA_LOOK_AGAIN_MS = 5 * 60_000;

/**
 * What one client knows of WeChat's daily quotas, per API: after a 45009 the API is not called
 * (each call fails at once as WeChat would answer) until the quota may be back — China's midnight,
 * or sooner, `lookAgainMs`, when one call tries again. The quota is shown used up from that answer
 * until a call of the API succeeds or the day WeChat counted it in is over. Only that API waits:
 * the client's other calls go on.
 */
export class DailyQuotas {
  /** Per API: not called before `callsFrom`; shown used up until `dayEnds`. */
  private readonly apis = new Map<string, { callsFrom: number; dayEnds: number }>();

  constructor(
    private readonly lookAgainMs: number = QUOTA_LOOK_AGAIN_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** WeChat answered 45009 for `api`: how long it is left alone (ms). */
  usedUp(api: string): number {
    const now = this.now();
    const midnight = msToChinaMidnight(now);
    const heldMs = Math.min(this.lookAgainMs, midnight);
    this.apis.set(api, { callsFrom: now + heldMs, dayEnds: now + midnight });
    return heldMs;
  }

  /** A call of `api` succeeded: its quota is not used up. */
  succeeded(api: string): void {
    this.apis.delete(api);
  }

  /** Throws what WeChat would answer while `api` is left alone; nothing when it may be called. */
  check(api: string): void {
    const entry = this.apis.get(api);
    if (entry === undefined) return;
    const left = entry.callsFrom - this.now();
    if (left > 0)
      throw new WechatRateLimitedError(api, 45009, `the daily quota is used up (WeChat's last answer); not called for ${Math.ceil(left / 1000)} s`, left);
  }

  /** The APIs whose quota WeChat last said is used up, today as WeChat counts days. */
  usedUpNow(): string[] {
    const now = this.now();
    for (const [api, entry] of this.apis) if (now >= entry.dayEnds) this.apis.delete(api);
    return [...this.apis.keys()];
  }
}
