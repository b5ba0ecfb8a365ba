export { ImError } from './errors/im-error.js';
export { ImTransientError } from './errors/transient-error.js';
export { ImRateLimitedError } from './errors/rate-limited-error.js';
export { ImCredentialError } from './errors/credential-error.js';
export { ImNotImportedError } from './errors/not-imported-error.js';
export { ImPermanentError } from './errors/permanent-error.js';
export { classifyImError } from './errors/classify.js';
export { type C2CMessage, type CallOptions, ImClient, type ImClientOptions, type ImResponse, type RecentContact, type RoamMessage } from './client.js';
export * from './elements.js';
export { RECALLED_FLAG, afterSendFromHistory, isRecalled, sentOrder } from './roam-message.js';
export { TYPING_BUSINESS_ID, typingData, typingOf } from './typing-message.js';
export {
  MAX_MARK_REASON_CHARS,
  RELAY_MARK_KEY,
  type ReadRelayCustomData,
  type RelayCustomData,
  type RelayMark,
  type RelayMarkState,
  type RelayNotice,
  type WechatOrigin,
  decodeRelayCustomData,
  encodeRelayCustomData,
  readRelayMark,
  withRelayMark,
} from './relay-custom-data.js';
export { UserSigCache, type UserSigDocument, verifyUserSig } from './usersig.js';
export { IM_COMMANDS, IM_DEFAULT_LIMIT, IM_RATE_LIMIT_CODES, paceFor } from './limits.js';
export {
  AFTER_MSG_WITHDRAW,
  AFTER_SEND_MSG,
  type AfterSendMsg,
  CALLBACK_OK,
  type CallbackAnswer,
  CallbackBodyError,
  MAX_MSG_TIME_SKEW_MS,
  type CallbackMsgElement,
  type CallbackQueryCheck,
  type CallbackQueryOptions,
  type CallbackRefusalCode,
  type MsgWithdraw,
  STATE_CHANGE,
  type StateChange,
  callbackError,
  callbackSign,
  parseAfterSendMsg,
  parseMsgWithdraw,
  parseStateChange,
  verifyCallbackQuery,
} from './callback.js';
