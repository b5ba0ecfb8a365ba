import type { KeyInUse, MessageCipher } from './message-cipher.js';
import { CryptoError } from './message-cipher.js';
import type { WechatMessage } from './messages.js';
import { MessageError, messageFromFields } from './parse-message.js';
import { msgSignature, signaturesEqual, urlSignature } from './signature.js';
import { XmlError, parseFlatXml } from './xml.js';

/** The query WeChat puts on every push. */
export interface PushQuery {
  signature?: string;
  timestamp?: string;
  nonce?: string;
  openid?: string;
  encrypt_type?: string;
  msg_signature?: string;
}

export interface PushSecrets {
  token: string;
  /** Present when WECHAT_ENCODING_AES_KEY is configured. */
  cipher?: MessageCipher;
  /**
   * WECHAT_REQUIRE_ENCRYPTION: only encrypted pushes (safe or compatible mode, `msg_signature`
   * over `Encrypt`) are taken. `signature` covers the token, timestamp and nonce, not the body, so
   * whoever holds one signed URL could post any body for five minutes; `msg_signature` does cover it.
   */
  requireEncryption?: boolean;
}

export interface OpenedPush {
  message: WechatMessage;
  /** The push came in safe or compatible mode: a passive reply must be encrypted too. */
  encrypted: boolean;
  /** Which EncodingAESKey opened it (the previous one while a change is under way): the reply goes in it. */
  key?: KeyInUse;
}

/** A push refused before anything was stored; `status` is the HTTP answer. */
export class PushRejected extends Error {
  override readonly name = 'PushRejected';
  constructor(
    readonly status: 400 | 401 | 500,
    readonly outcome: 'unauthorized' | 'bad_request' | 'misconfigured',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The query as WeChat sends it: each parameter once. A parameter given twice (`signature=a&signature=b`)
 * is refused with 400 rather than guessed at.
 */
export function singleValuedQuery(query: Readonly<Record<string, unknown>>): PushQuery {
  for (const [name, value] of Object.entries(query)) {
    if (typeof value !== 'string') throw new PushRejected(400, 'bad_request', `query parameter ${name.slice(0, 40)} is given more than once`);
  }
  return query;
}

/** WeChat's own requests are fresh; a signed request older than this is a replay. */
export const MAX_CLOCK_SKEW_SECONDS = 300;

/** Checks `signature` and the timestamp window: the gate for both GET and POST. */
export function verifyRequest(query: PushQuery, token: string, nowSeconds: number): void {
  const { signature, timestamp, nonce } = query;
  if (signature === undefined || timestamp === undefined || nonce === undefined)
    throw new PushRejected(401, 'unauthorized', 'missing signature, timestamp or nonce');
  if (!signaturesEqual(urlSignature(token, timestamp, nonce), signature)) throw new PushRejected(401, 'unauthorized', 'signature does not match');
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > MAX_CLOCK_SKEW_SECONDS) {
    throw new PushRejected(401, 'unauthorized', 'timestamp is outside the 5-minute window');
  }
}

/**
 * Verifies, decrypts and parses one push. Safe and compatible mode (`encrypt_type=aes`) are
 * opened with the cipher; plain signed pushes are accepted as well, so that an operator switching
 * modes in the WeChat console loses nothing while the two sides disagree.
 */
export function openPush(query: PushQuery, body: string, secrets: PushSecrets, nowSeconds: number): OpenedPush {
  verifyRequest(query, secrets.token, nowSeconds);
  try {
    const outer = parseFlatXml(body);
    const encrypt = outer['Encrypt'];
    if (secrets.requireEncryption && (query.encrypt_type !== 'aes' || encrypt === undefined || query.msg_signature === undefined)) {
      throw new PushRejected(401, 'unauthorized', 'only encrypted pushes are accepted (WECHAT_REQUIRE_ENCRYPTION)');
    }
    if (query.encrypt_type === 'aes' && encrypt !== undefined) {
      if (secrets.cipher !== undefined) {
        if (!signaturesEqual(msgSignature(secrets.token, query.timestamp!, query.nonce!, encrypt), query.msg_signature)) {
          throw new PushRejected(401, 'unauthorized', 'msg_signature does not match');
        }
        const { text, key } = secrets.cipher.open(encrypt);
        return { message: messageFromFields(parseFlatXml(text)), encrypted: true, key };
      }
      // Compatible mode carries the plaintext fields beside Encrypt: usable without the key.
      if (outer['MsgType'] === undefined) {
        throw new PushRejected(500, 'misconfigured', 'safe-mode push received but WECHAT_ENCODING_AES_KEY is not set');
      }
    }
    return { message: messageFromFields(outer), encrypted: false };
  } catch (err) {
    if (err instanceof XmlError || err instanceof MessageError || err instanceof CryptoError) throw new PushRejected(400, 'bad_request', err.message);
    throw err;
  }
}
