import { WechatTransientError } from './errors/transient-error.js';
import { WechatUncertainError } from './errors/uncertain-error.js';

/**
 * Failures that can only happen before a byte of the request is written: the name does not
 * resolve, the connection is refused or times out, the pool was closed beforehand.
 */
const NEVER_LEFT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_CLOSED']);
/** Routing failures: before the request only while connecting (`syscall: 'connect'`); on a kept-alive connection they may come after it. */
const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
/**
 * TLS failures of the handshake (the certificate, the protocol agreed on), before the request. A TLS
 * error once the connection is up (a bad record, a decryption failure on the answer of a kept-alive
 * connection) may come after the request was written: not one of these.
 */
const TLS_HANDSHAKE =
  /^(ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_SSL_.*(HANDSHAKE|WRONG_VERSION_NUMBER|PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|UNKNOWN_PROTOCOL|NO_PROTOCOLS|CERTIFICATE|UNKNOWN_CA))/;

/** The network error itself (Node's or undici's); for several attempts (happy eyeballs), the first. */
function firstError(err: unknown): { code?: unknown; name?: unknown; syscall?: unknown } | undefined {
  const e = err as { code?: unknown; name?: unknown; errors?: unknown; syscall?: unknown } | undefined;
  // Node's AggregateError carries the first attempt's code, but not its syscall.
  if (Array.isArray(e?.errors) && e.errors.length > 0) return firstError(e.errors[0]);
  return e;
}

/** The code of a network error (Node's or undici's); for several attempts (happy eyeballs), the first. */
export function networkErrorCode(err: unknown): string {
  const e = firstError(err);
  if (typeof e?.code === 'string') return e.code;
  return typeof e?.name === 'string' ? e.name : 'unknown';
}

/** Whether the request cannot have left: see NEVER_LEFT, UNREACHABLE and TLS_HANDSHAKE. */
export function neverLeft(err: unknown): boolean {
  const code = networkErrorCode(err);
  if (UNREACHABLE.has(code)) return firstError(err)?.syscall === 'connect';
  return NEVER_LEFT.has(code) || TLS_HANDSHAKE.test(code);
}

/**
 * A request that failed without an answer: transient when it never left, uncertain otherwise (it
 * may have reached WeChat). Only the error's code is kept: undici's messages and causes are left
 * behind, so nothing of the URL can travel with the error.
 */
export function networkFailure(api: string, err: unknown): WechatTransientError | WechatUncertainError {
  const code = networkErrorCode(err);
  if (neverLeft(err)) return new WechatTransientError(api, 0, `request not sent: ${code}`);
  return new WechatUncertainError(api, 0, `no answer after sending: ${code}`);
}
