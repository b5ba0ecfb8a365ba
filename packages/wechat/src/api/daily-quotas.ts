import { WechatRateLimitedError, msToChinaMidnight } from './errors/rate-limited-error.js';

/**
 * How long an API whose daily quota WeChat said is used up (45009) is left alone before one call
 * tries it again: an operator may reset the quota (WeChat's clear_quota) before the day ends.
 */
export const QUOTA_LOOK_AGAIN_MS = 5 * 60_000;

/** While that one call is on its way, the others wait this long before they ask again (its answer decides for them). */
export const QUOTA_PROBE_WAIT_MS = 1000;

/**
 * What one client knows of WeChat's daily quotas, per API: after a 45009 the API is not called
 * (each call fails at once as WeChat would answer) until the quota may be back — China's midnight,
 * or sooner, `lookAgainMs`, when one call tries again (the others wait for its answer). The quota
 * is shown used up from that answer until a call of the API succeeds, the day WeChat counted it
 * in is over, or nothing tried the API again (see usedUpNow). Only that API waits: the client's
 * other calls go on.
 */
export class DailyQuotas {
  /** Per API: not called before `callsFrom`; one call trying again (`probing`); shown used up until `dayEnds`. */
  private readonly apis = new Map<string, { callsFrom: number; dayEnds: number; probing: boolean }>();

  constructor(
    private readonly lookAgainMs: number = QUOTA_LOOK_AGAIN_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** WeChat answered 45009 for `api`: how long it is left alone (ms). */
  usedUp(api: string): number {
    const now = this.now();
    const midnight = msToChinaMidnight(now);
    const heldMs = Math.min(this.lookAgainMs, midnight);
    this.apis.set(api, { callsFrom: now + heldMs, dayEnds: now + midnight, probing: false });
    return heldMs;
  }

  /** A call of `api` succeeded: its quota is not used up. */
  succeeded(api: string): void {
    this.apis.delete(api);
  }

  /**
   * Throws what WeChat would answer while `api` is left alone. Otherwise the call may go: true when
   * it is the one call that tries the API again, which must report its end (`tried`).
   */
  check(api: string): boolean {
    const entry = this.apis.get(api);
    if (entry === undefined) return false;
    const left = entry.callsFrom - this.now();
    if (left > 0) throw this.refusal(api, left);
    if (entry.probing) throw this.refusal(api, QUOTA_PROBE_WAIT_MS);
    entry.probing = true;
    return true;
  }

  /** The call that tried `api` again has ended: if it settled nothing (no answer, or not made), the next call tries. */
  tried(api: string): void {
    const entry = this.apis.get(api);
    if (entry !== undefined) entry.probing = false;
  }

  /**
   * The APIs whose quota WeChat last said is used up, today as WeChat counts days: not once a
   * call has succeeded, nor when no call tried again within `lookAgainMs` after the hold (a
   * client with nothing more to send learns nothing new, and would show it to midnight).
   */
  usedUpNow(): string[] {
    const now = this.now();
    for (const [api, entry] of this.apis) if (now >= entry.dayEnds || (now >= entry.callsFrom + this.lookAgainMs && !entry.probing)) this.apis.delete(api);
    return [...this.apis.keys()];
  }

  private refusal(api: string, waitMs: number): WechatRateLimitedError {
    return new WechatRateLimitedError(api, 45009, `the daily quota is used up (WeChat's last answer); not called for ${Math.ceil(waitMs / 1000)} s`, waitMs);
  }
}
