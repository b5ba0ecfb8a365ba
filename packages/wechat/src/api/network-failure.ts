import { WechatTransientError } from './errors/transient-error.js';
import { WechatUncertainError } from './errors/uncertain-error.js';

/**
 * Failures that happen before a byte of the request is written: the name does not resolve, the
 * connection is refused or times out, the TLS handshake fails, the pool was closed beforehand.
 */
const NEVER_LEFT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
]);
const TLS_HANDSHAKE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_)/;

/** The code of a network error (Node's or undici's); for several attempts (happy eyeballs), the first. */
export function networkErrorCode(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown; errors?: unknown };
  if (typeof e?.code === 'string') return e.code;
  if (Array.isArray(e?.errors) && e.errors.length > 0) return networkErrorCode(e.errors[0]);
  return typeof e?.name === 'string' ? e.name : 'unknown';
}

export function neverLeft(code: string): boolean {
  return NEVER_LEFT.has(code) || TLS_HANDSHAKE.test(code);
}

/**
 * A request that failed without an answer: transient when it never left, uncertain otherwise (it
 * may have reached WeChat). Only the error's code is kept: undici's messages and causes are left
 * behind, so nothing of the URL can travel with the error.
 */
export function networkFailure(api: string, err: unknown): WechatTransientError | WechatUncertainError {
  const code = networkErrorCode(err);
  if (neverLeft(code)) return new WechatTransientError(api, 0, `request not sent: ${code}`);
  return new WechatUncertainError(api, 0, `no answer after sending: ${code}`);
}
