import { WechatApiError } from './wechat-api-error.js';

/** The access_token was refused as invalid (40001, 40014) or expired (42001). */
const RENEWABLE = new Set([40001, 40014, 42001]);

/**
 * A renewable code means the token is bad: drop it (if it is still the stored one), fetch another
 * and call once more. The others (wrong AppID or AppSecret, IP not whitelisted, parameters
 * missing) are configuration errors that no retry of ours can mend.
 */
export class WechatCredentialError extends WechatApiError {
  override readonly name = 'WechatCredentialError';
  readonly kind = 'credential';
  get renewable(): boolean {
    return RENEWABLE.has(this.code);
  }
}
