import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The signed, short-lived links agents' IM clients fetch a customer's voice and video through:
 * `<id>.<expires>.<signature>`, the signature HMAC-SHA256 over `<id>.<expires>` (base64url). The
 * link is all a client has (IM clients send no credentials), so it is the capability: whoever
 * holds it may fetch that one entry until it expires, and nothing else.
 */

const TOKEN = /^([A-Za-z0-9_-]{16,64})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

export type MediaTokenCheck = { ok: true; id: string; expiresAt: number } | { ok: false; reason: 'malformed' | 'signature' | 'expired' };

function signature(secret: string, id: string, expiresAt: number): Buffer {
  return createHmac('sha256', secret).update(`${id}.${expiresAt}`).digest();
}

/** The token for entry `id`, valid until `expiresAt` (seconds since the epoch). */
export function signMediaToken(secret: string, id: string, expiresAt: number): string {
  if (!/^[A-Za-z0-9_-]{16,64}$/.test(id)) throw new Error('a media entry id is 16 to 64 base64url characters');
  return `${id}.${expiresAt}.${signature(secret, id, expiresAt).toString('base64url')}`;
}

/** Whether `token` is one we signed and still valid at `nowMs`; the signature is compared in constant time. */
export function verifyMediaToken(secret: string, token: string, nowMs: number): MediaTokenCheck {
  const match = TOKEN.exec(token);
  if (match === null) return { ok: false, reason: 'malformed' };
  const [, id, expires, sig] = match as unknown as [string, string, string, string];
  const expiresAt = Number(expires);
  const given = Buffer.from(sig, 'base64url');
  const expected = signature(secret, id, expiresAt);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature' };
  // Checked after the signature, so that an unsigned token never learns whether it has expired.
  if (expiresAt * 1000 <= nowMs) return { ok: false, reason: 'expired' };
  return { ok: true, id, expiresAt };
}

/**
 * The entry id of one piece of a customer's media (`voice`, `video`, `thumb`), from WeChat's
 * media id: the same on every attempt of a job, so the IM element (and its CRC) is too; hashed so
 * that the link does not carry WeChat's media id.
 */
export function mediaEntryId(part: string, mediaId: string): string {
  return createHash('sha256').update(`${part}:${mediaId}`).digest('base64url').slice(0, 32);
}
