import { createHmac } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import TLSSigAPIv2 from 'tls-sig-api-v2';

const SIG_LIFETIME_S = 7 * 24 * 3600;
/** Renew at half-life: "well before expiry", and a clock that drifts by hours still has margin. */
const RENEW_AFTER_MS = (SIG_LIFETIME_S * 1000) / 2;

/** The admin's UserSig, generated once and reused until half its life has passed. */
export class UserSigCache {
  private readonly api: { genUserSig(userId: string, expire: number): string };
  private sig?: string;
  private generatedAt = 0;
  /** How many times a sig was generated (for metrics and tests). */
  generations = 0;

  constructor(
    sdkAppId: number,
    secretKey: string,
    private readonly identifier: string,
    private readonly now: () => number = Date.now,
  ) {
    this.api = new TLSSigAPIv2.Api(sdkAppId, secretKey);
  }

  get(): string {
    if (this.sig === undefined || this.now() - this.generatedAt > RENEW_AFTER_MS) this.renew();
    return this.sig!;
  }

  /** After 70001: throw the cached one away. */
  renew(): string {
    this.sig = this.api.genUserSig(this.identifier, SIG_LIFETIME_S);
    this.generatedAt = this.now();
    this.generations++;
    return this.sig;
  }
}

export interface UserSigDocument {
  identifier: string;
  sdkAppId: number;
  /** Seconds since the epoch. */
  time: number;
  /** Seconds of validity from `time`. */
  expire: number;
}

/**
 * Checks a UserSig as IM does: base64 with `*-_` for `+/=`, zlib, JSON, HMAC-SHA256 over the
 * TLS fields with the app's key. Returns the document, or undefined when forged or malformed.
 */
export function verifyUserSig(sig: string, secretKey: string): UserSigDocument | undefined {
  try {
    const json = inflateSync(Buffer.from(sig.replace(/\*/g, '+').replace(/-/g, '/').replace(/_/g, '='), 'base64')).toString('utf8');
    const doc = JSON.parse(json) as Record<string, unknown>;
    const identifier = String(doc['TLS.identifier']);
    const sdkAppId = Number(doc['TLS.sdkappid']);
    const time = Number(doc['TLS.time']);
    const expire = Number(doc['TLS.expire']);
    let signed = `TLS.identifier:${identifier}\nTLS.sdkappid:${sdkAppId}\nTLS.time:${time}\nTLS.expire:${expire}\n`;
    if (typeof doc['TLS.userbuf'] === 'string') signed += `TLS.userbuf:${doc['TLS.userbuf']}\n`;
    const expected = createHmac('sha256', secretKey).update(signed).digest('base64');
    return expected === doc['TLS.sig'] ? { identifier, sdkAppId, time, expire } : undefined;
  } catch {
    return undefined;
  }
}
