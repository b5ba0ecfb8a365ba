export { pushXml } from './push-xml.js';
export { type PushMode, type PushResult, type SignedPush, WechatPlatform, type WechatPlatformOptions, fakeOpenId, nextMsgId } from './wechat-platform.js';
export { SANDBOX, sandboxEnv } from './credentials.js';
