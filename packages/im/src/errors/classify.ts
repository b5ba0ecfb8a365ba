import { IM_RATE_LIMIT_CODES } from '../limits.js';
import { ImCredentialError } from './credential-error.js';
import type { ImError } from './im-error.js';
import { ImNotImportedError } from './not-imported-error.js';
import { ImPermanentError } from './permanent-error.js';
import { ImRateLimitedError } from './rate-limited-error.js';
import { ImTransientError } from './transient-error.js';

// The classes of docs/tencent-im.md (Tencent IM REST error codes), plus the "internal error, try again
// later" codes of the account import pages: 40006, 70202 and 70500.
const TRANSIENT = new Set([20004, 20005, 40006, 60008, 70169, 70202, 70500, 90992, 90994, 90995, 91000]);
// IM's "too many requests" answers, plus 70050 (too many failed logins: wait a minute).
const RATE_LIMITED = new Set([...IM_RATE_LIMIT_CODES.map(Number), 70050]);
// 60006 SDKAppID invalid, 60016 SDKAppID disabled, 60017 requests disabled, 60020 the Pro package
// expired (a new one works 5 minutes after purchase), 60021 the caller's IP not allowed: the app's
// setup, mended in the console, not a message's fault; so the jobs wait and retry.
const CREDENTIAL = new Set([70001, 60004, 60005, 60006, 60016, 60017, 60020, 60021, 70003, 70009, 70013, 70014, 70016, 70020]);
const NOT_IMPORTED = new Set([20003, 70107, 90012, 90048]);

/** The typed error for a non-zero `ErrorCode`; codes not listed are permanent. */
export function classifyImError(command: string, code: number, info: string): ImError {
  if (TRANSIENT.has(code)) return new ImTransientError(command, code, info);
  if (RATE_LIMITED.has(code)) return new ImRateLimitedError(command, code, info);
  if (CREDENTIAL.has(code)) return new ImCredentialError(command, code, info);
  if (NOT_IMPORTED.has(code)) return new ImNotImportedError(command, code, info);
  return new ImPermanentError(command, code, info);
}
