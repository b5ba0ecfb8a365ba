import { WechatRateLimitedError, msToChinaMidnight } from './errors/rate-limited-error.js';

/**
 * How long an API whose daily quota WeChat said is used up (45009) is left alone before one call
 * tries it again: an operator may reset the quota (WeChat's clear_quota) before the day ends.
 */
export const QUOTA_LOOK_AGAIN_MS = 5 * 60_000;

/** While that one call is on its way, the others wait this long before they ask again (its answer decides for them). */
export const QUOTA_PROBE_WAIT_MS = 1000;

/**
 * The waits of the calls refused while an API is left alone end spread over this share of the look
 * again (up to 30 s of 5 minutes): the replies waiting on a quota come back one after another, not
 * all in the same millisecond, each every look again rather than again and again while one asks.
 */
export const QUOTA_SPREAD = 0.1;

/**
 * What one client knows of WeChat's daily quotas, per API: after a 45009 the API is not called
 * (each call fails at once as WeChat would answer) until the quota may be back — China's midnight,
 * or sooner, `lookAgainMs`, when one call tries again (the others wait for its answer). The quota
 * is shown used up from that answer until a call of the API made since succeeds (not one that was
 * on its way when the quota ran out), the day WeChat counted it in is over, or nothing tried the
 * API again (see usedUpNow). Only that API waits: the client's other calls go on.
 */
export class DailyQuotas {
  /** Per API: when WeChat said so; not called before `callsFrom`; one call trying again (`trying`); shown used up until `dayEnds`. */
  private readonly apis = new Map<string, QuotaEntry>();

  constructor(
    private readonly lookAgainMs: number = QUOTA_LOOK_AGAIN_MS,
    private readonly now: () => number = Date.now,
    /** Where in the spread a refused call's wait ends, 0 to 1 (tests fix it). */
    private readonly spread: () => number = Math.random,
  ) {}

  /** WeChat answered 45009 for `api`: how long it is left alone (ms). */
  usedUp(api: string): number {
    const now = this.now();
    const midnight = msToChinaMidnight(now);
    const heldMs = Math.min(this.lookAgainMs, midnight);
    this.apis.set(api, { heardAt: now, callsFrom: now + heldMs, dayEnds: now + midnight });
    return heldMs;
  }

  /**
   * A call of `api` let through by `pass` succeeded: its quota is not used up, unless WeChat said
   * it was after the call left (a call on its way when the quota ran out says nothing of now).
   */
  succeeded(api: string, pass: QuotaPass): void {
    const entry = this.apis.get(api);
    if (entry !== undefined && pass.at > entry.heardAt) this.apis.delete(api);
  }

  /**
   * Throws what WeChat would answer while `api` is left alone. Otherwise the call may go, with its
   * pass, which it hands back at its end (`tried`): the one call that tries the API again holds
   * the turn to (`trying`) until then.
   */
  check(api: string): QuotaPass {
    const now = this.now();
    const entry = this.refuseNow(api, now);
    if (entry === undefined) return { at: now };
    const trying = { since: now };
    entry.trying = trying;
    return { at: now, trying };
  }

  /** Throws what check would, without taking the turn to try the API again (for a call's costly preparation). */
  peek(api: string): void {
    this.refuseNow(api, this.now());
  }

  /** The call let through by `pass` has ended: if it was the one trying again and settled nothing (no answer, or not made), the next call tries. */
  tried(api: string, pass: QuotaPass): void {
    const entry = this.apis.get(api);
    if (entry !== undefined && pass.trying !== undefined && entry.trying === pass.trying) delete entry.trying;
  }

  /**
   * The APIs whose quota WeChat last said is used up, today as WeChat counts days: not once a
   * call has succeeded, nor when no call tried again within `lookAgainMs` after the hold (a
   * client with nothing more to send learns nothing new, and would show it to midnight).
   */
  usedUpNow(): string[] {
    const now = this.now();
    return [...this.apis]
      .filter(([, entry]) => now < entry.dayEnds && (now < entry.callsFrom + this.lookAgainMs || entry.trying !== undefined))
      .map(([api]) => api);
  }

  /** Throws the refusal of a call of `api` now; else the API's entry when a call may try it again, undefined when it is not held. */
  private refuseNow(api: string, now: number): QuotaEntry | undefined {
    const entry = this.apis.get(api);
    if (entry === undefined) return undefined;
    if (now >= entry.dayEnds) {
      this.apis.delete(api);
      return undefined;
    }
    const left = entry.callsFrom - now;
    const spread = () => Math.floor(this.spread() * QUOTA_SPREAD * this.lookAgainMs);
    if (left > 0) throw refusal(api, left + spread(), 'held');
    // A call still trying after a whole look again is stuck past any timeout: another tries.
    if (entry.trying !== undefined && now - entry.trying.since < this.lookAgainMs) throw refusal(api, QUOTA_PROBE_WAIT_MS, 'probe');
    return entry;
  }
}

/** What one API's quota is known to be. */
interface QuotaEntry {
  heardAt: number;
  callsFrom: number;
  dayEnds: number;
  trying?: { since: number };
}

/** A call let through (see check): when, and for the one call that tries the API again, its turn (its own: a stuck one ending does not end a later one's). */
export interface QuotaPass {
  at: number;
  trying?: { since: number };
}

function refusal(api: string, waitMs: number, local: 'held' | 'probe'): WechatRateLimitedError {
  const why = local === 'held' ? `not called for ${Math.ceil(waitMs / 1000)} s` : 'one call is asking WeChat again';
  return new WechatRateLimitedError(api, 45009, `the daily quota is used up (WeChat's last answer); ${why}`, waitMs, local);
}
