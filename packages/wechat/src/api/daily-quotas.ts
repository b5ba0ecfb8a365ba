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
  /** Per API: not called before `callsFrom`; one call trying again since `probingSince`; shown used up until `dayEnds`. */
  private readonly apis = new Map<string, QuotaEntry>();

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

  /**
   * Throws what WeChat would answer while `api` is left alone. Otherwise the call may go: when it
   * is the one call that tries the API again, its ticket, which it hands back at its end (`tried`).
   */
  check(api: string): QuotaEntry | undefined {
    const entry = this.apis.get(api);
    if (entry === undefined) return undefined;
    const now = this.now();
    if (now >= entry.dayEnds) {
      this.apis.delete(api);
      return undefined;
    }
    const left = entry.callsFrom - now;
    if (left > 0) throw refusal(api, left, 'held');
    // A call still trying after a whole look again is stuck past any timeout: another tries.
    if (entry.probingSince !== undefined && now - entry.probingSince < this.lookAgainMs) throw refusal(api, QUOTA_PROBE_WAIT_MS, 'probe');
    entry.probingSince = now;
    return entry;
  }

  /** The call that tried `api` again has ended: if it settled nothing (no answer, or not made), the next call tries. */
  tried(api: string, ticket: QuotaEntry): void {
    if (this.apis.get(api) === ticket) delete ticket.probingSince;
  }

  /**
   * The APIs whose quota WeChat last said is used up, today as WeChat counts days: not once a
   * call has succeeded, nor when no call tried again within `lookAgainMs` after the hold (a
   * client with nothing more to send learns nothing new, and would show it to midnight).
   */
  usedUpNow(): string[] {
    const now = this.now();
    return [...this.apis]
      .filter(([, entry]) => now < entry.dayEnds && (now < entry.callsFrom + this.lookAgainMs || entry.probingSince !== undefined))
      .map(([api]) => api);
  }
}

/** What one API's quota is known to be. */
export interface QuotaEntry {
  callsFrom: number;
  dayEnds: number;
  probingSince?: number;
}

function refusal(api: string, waitMs: number, local: 'held' | 'probe'): WechatRateLimitedError {
  const why = local === 'held' ? `not called for ${Math.ceil(waitMs / 1000)} s` : 'one call is asking WeChat again';
  return new WechatRateLimitedError(api, 45009, `the daily quota is used up (WeChat's last answer); ${why}`, waitMs, local);
}
