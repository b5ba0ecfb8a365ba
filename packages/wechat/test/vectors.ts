import { readFileSync } from 'node:fs';

export interface SignatureVector { source: string; token: string; timestamp: string; nonce: string; signature: string }
export interface CryptoVector {
  source: string;
  token: string;
  encodingAesKey: string;
  appId: string;
  timestamp: string;
  nonce: string;
  encrypt: string;
  msgSignature: string | null;
  plaintext: string;
}

/** Published vectors (official WXBizMsgCrypt samples, WxJava, EasyWeChat, wechatpy); see each `source`. */
export const vectors = JSON.parse(readFileSync(new URL('./fixtures/vectors.json', import.meta.url), 'utf8')) as {
  signature: SignatureVector[];
  crypto: CryptoVector[];
};
