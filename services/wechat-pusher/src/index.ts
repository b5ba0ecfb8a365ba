export { type PusherMetrics, createPusherMetrics } from './metrics.js';
export { closeConversation } from './desk-close.js';
export { type Undelivered, noticeIds, noticeText, reasonText } from './notice.js';
export { type PushResult, createPusher } from './processor.js';
export { type Delivery, deliver } from './reply-delivery.js';
export { type ReplyPart, planReply, quoteOf } from './reply-plan.js';
export { MediaError, fetchMedia } from './media-fetch.js';
export { wechatPusherService } from './service.js';
export { type WechatPusher, type WechatPusherOverrides, createWechatPusher } from './wechat-pusher.js';
