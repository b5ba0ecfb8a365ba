import { WechatCredentialError } from './credential-error.js';
import { WechatPermanentError } from './permanent-error.js';
import { WechatRateLimitedError } from './rate-limited-error.js';
import { WechatTransientError } from './transient-error.js';
import type { WechatApiError } from './wechat-api-error.js';

// The classes of docs/wechat.md ("API errors"). 89501 and 89503 (a call from an IP that awaits the
// administrator's confirmation) are configuration too: someone has to act in the console.
const TRANSIENT = new Set([-1]);
const RATE_LIMITED = new Set([45009, 45011]);
const CREDENTIAL = new Set([40001, 40014, 42001, 40013, 40125, 40164, 41002, 41004, 89501, 89503]);

/** The typed error for a non-zero errcode; codes not listed are permanent. */
export function classifyWechatError(api: string, code: number, info: string): WechatApiError {
  if (TRANSIENT.has(code)) return new WechatTransientError(api, code, info);
  if (RATE_LIMITED.has(code)) return new WechatRateLimitedError(api, code, info);
  if (CREDENTIAL.has(code)) return new WechatCredentialError(api, code, info);
  return new WechatPermanentError(api, code, info);
}
