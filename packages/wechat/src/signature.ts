import { createHash, timingSafeEqual } from 'node:crypto';

/** WeChat's signature: hex(sha1(the parts sorted as strings, concatenated)). */
export function sha1Signature(parts: readonly string[]): string {
  return createHash('sha1')
    .update([...parts].sort().join(''))
    .digest('hex');
}

/** `signature` of every request: sorted token, timestamp, nonce. */
export function urlSignature(token: string, timestamp: string, nonce: string): string {
  return sha1Signature([token, timestamp, nonce]);
}

/** `msg_signature` of safe and compatible mode: it signs the `Encrypt` text, not the plaintext. */
export function msgSignature(token: string, timestamp: string, nonce: string, encrypt: string): string {
  return sha1Signature([token, timestamp, nonce, encrypt]);
}

/** Constant-time comparison of two hex signatures (case-insensitive, as SDKs accept both). */
export function signaturesEqual(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expected.toLowerCase(), 'utf8');
  const b = Buffer.from(given.toLowerCase(), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
