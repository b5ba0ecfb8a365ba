export { pushXml } from './push-xml.js';
export { type PushMode, type PushResult, type SignedPush, WechatPlatform, type WechatPlatformOptions, fakeOpenId, nextMsgId } from './wechat-platform.js';
export { SANDBOX, sandboxEnv, sandboxPrefix } from './credentials.js';
export {
  type AgentSendResult,
  type FaultKind,
  type Faults,
  ImSimulator,
  type ImSimulatorOptions,
  type ReceivedMessage,
  type SimulatorStats,
} from './im-simulator.js';
export { type CallbackOutcome, type CallbackRecord, type CallbackTarget, IM_CALLBACK_BUDGET_MS } from './im-callback-sender.js';
export { type Pace, paceOf } from './pace-record.js';
export {
  type CustomerAction,
  type CustomerWindow,
  type DeliveredMessage,
  type StoredMedia,
  WechatApiSimulator,
  type WechatApiSimulatorOptions,
  type WechatFaultKind,
  type WechatFaults,
  type WechatSimulatorStats,
} from './wechat-api-simulator.js';
export { type AppChoice, PlatformFront, imApps, wechatApiApps } from './platform-front.js';
export { type SandboxHost, startSandboxHost } from './sandbox-host.js';
export { SandboxPage, type SandboxPageAccount, type SandboxPageOptions } from './page/sandbox-page.js';
export { type AgentConversation, type ChatItem, agentConversation, arrivals, customerPane, imBodyText } from './page/chat-view.js';
export { type Desk, type DeskAgent, type DeskWaiter, DeskView } from '@wxim/state';
export { stripesPng } from './page/png.js';
export { CUSTOMER_MEDIA_FILES, type CustomerMediaKind, customerMediaBytes, customerMediaKind } from './customer-media-fixtures.js';
