import { WechatApiError } from './wechat-api-error.js';

/**
 * WeChat refused this message for good: the customer's window or quota, the customer's state
 * (unfollowed, blocked), the account's permissions, the content (too long, media invalid or too
 * large), or a code we do not know. Sending the same thing again cannot help; `reasonOf(code)`
 * says why in words an agent understands.
 */
export class WechatPermanentError extends WechatApiError {
  override readonly name = 'WechatPermanentError';
  readonly kind = 'permanent';
}
