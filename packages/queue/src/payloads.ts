import type { WechatMessage } from '@wxim/wechat';

/** One job of `wechat-inbound`: a verified, decrypted WeChat push. */
export interface InboundJob {
  message: WechatMessage;
  /** Milliseconds since the epoch when the gateway accepted the push. */
  receivedAt: number;
}
