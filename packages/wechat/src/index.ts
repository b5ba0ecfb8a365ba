export * from './messages.js';
export { CryptoError, MessageCipher, aesKeyFromEncodingAesKey, pkcs7Pad, pkcs7Unpad } from './message-cipher.js';
export { MessageError, messageFromFields, parseMessage } from './parse-message.js';
export { dedupeId } from './dedupe-id.js';
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
