export * from './messages.js';
export { KIND_RULES, type KindRule, type RelayedKind, type RelayedMessage, type WindowOpening, isRelayed } from './kind-rules.js';
export { CryptoError, type KeyInUse, MessageCipher, aesKeyFromEncodingAesKey, pkcs7Pad, pkcs7Unpad } from './message-cipher.js';
export { MessageError, messageFromFields, parseMessage } from './parse-message.js';
export { dedupeId } from './dedupe-id.js';
export { OPENID } from './openid.js';
export { type TextReply, buildEncryptedReply, buildTextReply } from './reply.js';
export { msgSignature, sha1Signature, signaturesEqual, urlSignature } from './signature.js';
export { XmlError, cdata, parseFlatXml } from './xml.js';
export {
  MAX_CLOCK_SKEW_SECONDS,
  type OpenedPush,
  type PushQuery,
  PushRejected,
  type PushSecrets,
  openPush,
  singleValuedQuery,
  verifyRequest,
} from './open-push.js';
export { WechatApiError, type WechatErrorKind } from './api/errors/wechat-api-error.js';
export { WechatTransientError } from './api/errors/transient-error.js';
export { WechatUncertainError } from './api/errors/uncertain-error.js';
export { WechatCredentialError } from './api/errors/credential-error.js';
export { WechatRateLimitedError, msToChinaMidnight } from './api/errors/rate-limited-error.js';
export { DailyQuotas, QUOTA_LOOK_AGAIN_MS, QUOTA_SPREAD } from './api/daily-quotas.js';
export { WechatPermanentError } from './api/errors/permanent-error.js';
export { classifyWechatError } from './api/errors/classify.js';
export { reasonOf } from './api/reason.js';
export {
  CUSTOM_TEXT_LIMIT_BYTES,
  type CustomMessage,
  type CustomMsgType,
  MENU_HEAD_LIMIT_BYTES,
  type MenuOption,
  type TypingCommand,
} from './api/custom-message.js';
export {
  RATING_CLOSES,
  RATING_SCORES,
  type RatingOption,
  type RatingScore,
  closeNumber,
  ratingOptionId,
  ratingQuestion,
  readRatingOption,
} from './rating-menu.js';
export { IMAGE_PREFERRED_BYTES, MEDIA_LIFETIME_MS, MEDIA_LIMITS, type MediaLimit, type MediaType, VOICE_MAX_SECONDS } from './api/media-limits.js';
export { REPLY_APIS, WECHAT_APIS, type WechatApiName } from './api/apis.js';
export { splitText } from './api/split-text.js';
export { type MultipartBody, multipartFile } from './api/multipart.js';
export { type FetchedToken, type TokenApi, type TokenFetcher, type TokenFetcherOptions, clientCredentialToken, stableToken } from './api/token-fetcher.js';
export { type AccessTokenKeys, AccessTokenStore, type AccessTokenStoreOptions, type StoredToken } from './api/access-token-store.js';
export { type DownloadedMedia, type WechatAnswer, type WechatApiOptions, type WechatCallOptions, type WechatRequest, WechatApi } from './api/wechat-api.js';
export { AMR_FRAME_MS, type AmrInfo, amrInfo } from './media/amr-frames.js';
export { jpegSize } from './media/jpeg-size.js';
export { type MediaAnswer, readCapped, readMediaAnswer } from './media/media-answer.js';
export { videoLinkOf } from './media/video-link.js';
export { WECHAT_FACES, type WechatFace } from './emoji-codes.js';
export { emojiToUnicode } from './emoji-to-unicode.js';
