export { pushXml } from './push-xml.js';
export { type PushMode, type PushResult, type SignedPush, WechatPlatform, type WechatPlatformOptions, fakeOpenId, nextMsgId } from './wechat-platform.js';
export { SANDBOX, sandboxEnv, sandboxPrefix } from './credentials.js';
export { type FaultKind, type Faults, ImSimulator, type ImSimulatorOptions, type ReceivedMessage, type SimulatorStats } from './im-simulator.js';
export { type Pace, paceOf } from './pace-record.js';
