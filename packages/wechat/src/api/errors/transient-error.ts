import { WechatApiError } from './wechat-api-error.js';

/**
 * WeChat is busy (errcode -1), or the request never left: refused or failed connection, name not
 * resolved, connect timeout. Nothing reached WeChat, so a retry with backoff is safe, even for a send.
 */
export class WechatTransientError extends WechatApiError {
  override readonly name = 'WechatTransientError';
  readonly kind = 'transient';
}
