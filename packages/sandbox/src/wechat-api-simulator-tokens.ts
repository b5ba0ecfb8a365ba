import { randomBytes } from 'node:crypto';

export type IssuedKind = 'token' | 'stable_token';

interface Issued {
  kind: IssuedKind;
  expiresAt: number;
  /** From when WeChat refuses it (40001). */
  revokedAt?: number;
}

export interface SimTokenOptions {
  ttlMs: number;
  /** How long a cgi-bin/token stays valid after the next one is issued. */
  graceMs: number;
  /** Forced stable_token refreshes closer together than this return the current token. */
  forceIntervalMs: number;
}

/**
 * The access tokens of one Official Account as WeChat keeps them: cgi-bin/token issues a new one on
 * every call and voids the previous after a grace period; stable_token returns the same one until
 * its last 5 minutes (then a new one, the old staying valid to its end), and a forced refresh voids
 * it at once. The two kinds do not affect each other.
 */
export class SimTokens {
  private readonly issued = new Map<string, Issued>();
  private currentCgi?: string;
  private currentStable?: string;
  private lastForcedAt = -Infinity;
  /** Set by `revokeAll({ stableStaysStale })`: stable_token keeps handing out its revoked token until a forced refresh. */
  private stableStale = false;
  private serial = 0;

  constructor(private readonly options: SimTokenOptions) {}

  private issue(kind: IssuedKind, now: number): string {
    const token = `${++this.serial}_${randomBytes(48).toString('base64url')}`;
    this.issued.set(token, { kind, expiresAt: now + this.options.ttlMs });
    return token;
  }

  private expiresIn(token: string, now: number): number {
    return Math.max(0, Math.floor((this.issued.get(token)!.expiresAt - now) / 1000));
  }

  cgiToken(now: number): { token: string; expiresIn: number } {
    if (this.currentCgi !== undefined) {
      const previous = this.issued.get(this.currentCgi)!;
      previous.revokedAt = Math.min(previous.revokedAt ?? Infinity, now + this.options.graceMs);
    }
    this.currentCgi = this.issue('token', now);
    return { token: this.currentCgi, expiresIn: this.expiresIn(this.currentCgi, now) };
  }

  stableToken(force: boolean, now: number): { token: string; expiresIn: number } {
    const current = this.currentStable === undefined ? undefined : this.issued.get(this.currentStable);
    // WeChat renews within the last 5 minutes; a short test lifetime renews in its second half.
    const earlyMs = Math.min(300_000, this.options.ttlMs / 2);
    let renew = current === undefined || current.expiresAt - now <= earlyMs || (!this.stableStale && !this.valid(current, now));
    if (force && now - this.lastForcedAt >= this.options.forceIntervalMs) {
      this.lastForcedAt = now;
      if (current !== undefined) current.revokedAt = Math.min(current.revokedAt ?? Infinity, now);
      this.stableStale = false;
      renew = true;
    }
    if (renew) this.currentStable = this.issue('stable_token', now);
    return { token: this.currentStable!, expiresIn: this.expiresIn(this.currentStable!, now) };
  }

  private valid(t: Issued, now: number): boolean {
    return now < t.expiresAt && (t.revokedAt === undefined || now < t.revokedAt);
  }

  /** Whether this account issued the token (valid or not). */
  hasIssued(token: string): boolean {
    return this.issued.has(token);
  }

  /** Why WeChat would refuse this token, or undefined when it takes it. */
  check(token: string | undefined, now: number): { errcode: number; errmsg: string } | undefined {
    if (token === undefined || token === '') return { errcode: 41001, errmsg: 'access_token missing' };
    const t = this.issued.get(token);
    if (t === undefined || (t.revokedAt !== undefined && now >= t.revokedAt))
      return { errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest' };
    if (now >= t.expiresAt) return { errcode: 42001, errmsg: 'access_token expired' };
    return undefined;
  }

  /** Voids every token now, as a forced refresh elsewhere or a reset of the AppSecret would. */
  revokeAll(now: number, stableStaysStale = false): void {
    for (const t of this.issued.values()) t.revokedAt = Math.min(t.revokedAt ?? Infinity, now);
    this.stableStale = stableStaysStale;
  }
}
