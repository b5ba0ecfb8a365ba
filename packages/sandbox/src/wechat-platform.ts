import { randomBytes, randomInt } from 'node:crypto';
import { MessageCipher, type WechatMessage, cdata, msgSignature, readRatingOption, urlSignature } from '@wxim/wechat';
import { request } from 'undici';
import { pushXml } from './push-xml.js';

/** How the simulated Official Account sends: the three modes of the WeChat console. */
export type PushMode = 'plain' | 'compatible' | 'safe';

export interface WechatPlatformOptions {
  /** Where the gateway listens, e.g. http://127.0.0.1:3000 */
  gatewayUrl: string;
  /** The path the Official Account's pushes go to: /wechat, or /wechat/<account> with ACCOUNTS_FILE. */
  pushPath?: string;
  token: string;
  appId: string;
  encodingAesKey?: string;
  mode?: PushMode;
  /** The Official Account's original id. */
  accountId?: string;
  /**
   * The WeChat API simulator's origin: each push first tells it what the customer did, as WeChat
   * itself knows, so that its customer-service window and quota follow the customer.
   */
  apiSimulatorUrl?: string;
}

export interface SignedPush {
  /** Path and query, e.g. /wechat?signature=…&timestamp=…&nonce=…&openid=… */
  path: string;
  body: string;
}

export interface PushResult {
  status: number;
  body: string;
  /** The passive reply, decrypted when it came encrypted; undefined for `success` or empty. */
  reply?: string;
}

let lastMsgId = BigInt(Date.now()) * 1_000_000n;

/** A fresh 64-bit-ish MsgId, larger than 2^53 so it exercises string handling. */
export function nextMsgId(): string {
  lastMsgId += BigInt(1 + randomInt(1000));
  return lastMsgId.toString();
}

/**
 * The WeChat server side of an Official Account: signs (and in safe or compatible mode encrypts)
 * pushes exactly as WeChat does and posts them to the gateway.
 */
export class WechatPlatform {
  readonly accountId: string;
  readonly mode: PushMode;
  private readonly cipher?: MessageCipher;

  constructor(readonly options: WechatPlatformOptions) {
    this.accountId = options.accountId ?? 'gh_sandbox000001';
    this.mode = options.mode ?? 'plain';
    if (this.mode !== 'plain') {
      if (options.encodingAesKey === undefined) throw new Error(`${this.mode} mode needs an EncodingAESKey`);
      this.cipher = new MessageCipher(options.encodingAesKey, options.appId);
    }
  }

  /** Signs a push the way WeChat does; `timestamp` in seconds may be given to test staleness. */
  sign(msg: WechatMessage, timestamp = Math.floor(Date.now() / 1000)): SignedPush {
    return this.signXml(pushXml(msg), msg.fromUserName, msg.toUserName, timestamp);
  }

  /** Signs (and in safe or compatible mode encrypts) a push given as its XML, e.g. one WeChat sends that no message type here describes. */
  signXml(plain: string, openid: string, toUserName = this.accountId, timestamp = Math.floor(Date.now() / 1000)): SignedPush {
    const ts = String(timestamp);
    const nonce = String(randomInt(1e9));
    const query = new URLSearchParams({ signature: urlSignature(this.options.token, ts, nonce), timestamp: ts, nonce, openid });
    if (this.cipher === undefined) return { path: `${this.options.pushPath ?? '/wechat'}?${query.toString()}`, body: plain };
    const encrypt = this.cipher.encrypt(plain);
    query.set('encrypt_type', 'aes');
    query.set('msg_signature', msgSignature(this.options.token, ts, nonce, encrypt));
    const envelope =
      this.mode === 'safe'
        ? `<xml><ToUserName>${cdata(toUserName)}</ToUserName><Encrypt>${cdata(encrypt)}</Encrypt></xml>`
        : plain.replace('</xml>', `<Encrypt>${cdata(encrypt)}</Encrypt>\n</xml>`);
    return { path: `${this.options.pushPath ?? '/wechat'}?${query.toString()}`, body: envelope };
  }

  /** Posts a signed push, as WeChat would once (it retries on its own; tests call again). */
  async push(msg: WechatMessage, timestamp?: number): Promise<PushResult> {
    if (this.options.apiSimulatorUrl !== undefined) await this.tellApiSimulator(msg);
    return this.post(this.sign(msg, timestamp));
  }

  private async tellApiSimulator(msg: WechatMessage): Promise<void> {
    // A tap on a rating question's option (a menu message) counts as a menu click for the quota.
    const kind = ['text', 'image', 'voice', 'video', 'shortvideo', 'location', 'link'].includes(msg.kind)
      ? 'message'
      : ['subscribe', 'scan', 'click', 'scancode', 'rating'].includes(msg.kind)
        ? 'event'
        : msg.kind === 'unsubscribe'
          ? 'unfollowed'
          : undefined;
    if (kind === undefined) return;
    const path = kind === 'unfollowed' ? '/sim/customer-unfollowed' : '/sim/customer-acted';
    // Named by AppID: a simulator playing several Official Accounts (sandbox mode's) tells them apart by it.
    const res = await request(`${this.options.apiSimulatorUrl}${path}?appid=${encodeURIComponent(this.options.appId)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ openid: msg.fromUserName, ...(kind === 'unfollowed' ? {} : { kind, at: msg.createTime * 1000 }) }),
    });
    await res.body.dump();
  }

  async post(signed: SignedPush): Promise<PushResult> {
    const res = await request(`${this.options.gatewayUrl}${signed.path}`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body: signed.body,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const body = await res.body.text();
    return { status: res.statusCode, body, reply: res.statusCode === 200 ? this.openReply(body) : undefined };
  }

  private openReply(body: string): string | undefined {
    if (body === '' || body === 'success') return undefined;
    const encrypt = /<Encrypt><!\[CDATA\[([^\]]*)\]\]><\/Encrypt>/.exec(body)?.[1];
    return encrypt !== undefined && this.cipher !== undefined ? this.cipher.decrypt(encrypt) : body;
  }

  /** A message from a customer, with the account filled in. */
  text(openid: string, content: string, msgId = nextMsgId()): WechatMessage {
    return { kind: 'text', toUserName: this.accountId, fromUserName: openid, createTime: Math.floor(Date.now() / 1000), msgId, content };
  }

  /**
   * The customer's tap on an option of a menu message (msgmenu): WeChat pushes a text of the
   * option's content with its id in `bizmsgmenuid`, parsed as a rating answer when the id is one.
   */
  menuTap(openid: string, optionId: string, content: string, msgId = nextMsgId()): WechatMessage {
    const text = { toUserName: this.accountId, fromUserName: openid, createTime: Math.floor(Date.now() / 1000), msgId, content };
    const rating = readRatingOption(optionId);
    return rating === undefined ? { kind: 'text', ...text, menuId: optionId } : { kind: 'rating', ...text, ...rating };
  }

  /** A photo the customer sent: WeChat's copy at `picUrl`, and its media id. */
  image(openid: string, picUrl: string, mediaId: string, msgId = nextMsgId()): WechatMessage {
    return { kind: 'image', toUserName: this.accountId, fromUserName: openid, createTime: Math.floor(Date.now() / 1000), msgId, picUrl, mediaId };
  }

  /**
   * A voice message: its media id names the simulator's 2 s recording (media/get serves it), and
   * `recognition` is WeChat's transcript where the account has recognition on.
   */
  voice(openid: string, options: { recognition?: string; mediaId?: string } = {}, msgId = nextMsgId()): WechatMessage {
    return {
      kind: 'voice',
      toUserName: this.accountId,
      fromUserName: openid,
      createTime: Math.floor(Date.now() / 1000),
      msgId,
      mediaId: options.mediaId ?? `simvoice-${randomBytes(12).toString('base64url')}`,
      format: 'amr',
      ...(options.recognition === undefined ? {} : { recognition: options.recognition }),
    };
  }

  /** A video (or short video) message: media/get links the simulator's 1 s clip, and serves its thumbnail. */
  video(openid: string, kind: 'video' | 'shortvideo' = 'video', msgId = nextMsgId()): WechatMessage {
    const unique = randomBytes(12).toString('base64url');
    return {
      kind,
      toUserName: this.accountId,
      fromUserName: openid,
      createTime: Math.floor(Date.now() / 1000),
      msgId,
      mediaId: `simvideo-${unique}`,
      thumbMediaId: `simthumb-${unique}`,
    };
  }

  /** A location the customer shared from the map. */
  location(openid: string, latitude: number, longitude: number, label: string, msgId = nextMsgId()): WechatMessage {
    return {
      kind: 'location',
      toUserName: this.accountId,
      fromUserName: openid,
      createTime: Math.floor(Date.now() / 1000),
      msgId,
      latitude,
      longitude,
      scale: 15,
      label,
    };
  }

  follow(openid: string): WechatMessage {
    return { kind: 'subscribe', toUserName: this.accountId, fromUserName: openid, createTime: Math.floor(Date.now() / 1000) };
  }

  unfollow(openid: string): WechatMessage {
    return { kind: 'unsubscribe', toUserName: this.accountId, fromUserName: openid, createTime: Math.floor(Date.now() / 1000) };
  }
}

/** An openid-shaped id (28 characters of [A-Za-z0-9_-]) for simulated customers. */
export function fakeOpenId(): string {
  return `o${randomBytes(21).toString('base64url')}`.slice(0, 28);
}
