import { WECHAT_APIS } from '../apis.js';
import { WechatApiError } from './wechat-api-error.js';

/**
 * The request may have reached WeChat and been acted on, but no answer came that says so: a
 * headers or body timeout, a socket closed or reset after sending, HTTP 5xx, an answer that is not
 * JSON. `message/custom/send` is not idempotent: resending may deliver the message twice.
 */
export class WechatUncertainError extends WechatApiError {
  override readonly name = 'WechatUncertainError';
  readonly kind = 'uncertain';
  /** Whether calling again is harmless (an upload or a typing state); a send is not. */
  get idempotent(): boolean {
    return this.api !== WECHAT_APIS.send;
  }
}
