import { Pool } from 'undici';
import { WECHAT_APIS } from './apis.js';
import type { AccessTokenStore } from './access-token-store.js';
import type { CustomMessage, TypingCommand } from './custom-message.js';
import { classifyWechatError } from './errors/classify.js';
import { WechatCredentialError } from './errors/credential-error.js';
import { WechatUncertainError } from './errors/uncertain-error.js';
import { redact } from './errors/wechat-api-error.js';
import type { MediaType } from './media-limits.js';
import { multipartFile } from './multipart.js';
import { networkFailure } from './network-failure.js';
import { readCapped, readMediaAnswer } from '../media/media-answer.js';
import { videoLinkOf } from '../media/video-link.js';
import { WechatPermanentError } from './errors/permanent-error.js';
import { WechatRateLimitedError } from './errors/rate-limited-error.js';
import { DailyQuotas } from './daily-quotas.js';

export interface WechatApiOptions {
  /** e.g. https://api.weixin.qq.com, or the simulator. */
  apiBase: string;
  /** The Official Account the client speaks for (in logs and metrics; the token carries it to WeChat). */
  appId: string;
  tokens: AccessTokenStore;
  /** Per call, connect to last byte. */
  timeoutMs?: number;
  connections?: number;
  /** Called after every call with its outcome (`ok`, the errcode, `network`, `http_<status>`, `bad_json`; a download also `too_large`, `deadline`), for metrics. */
  afterCall?: (api: string, outcome: string, seconds: number) => void;
  /** What the client knows of WeChat's daily quotas (see DailyQuotas): a 5-minute look again by default. */
  quotas?: DailyQuotas;
}

/** What one call may be given besides its content. */
export interface WechatCallOptions {
  /**
   * Runs right before the request leaves (again before the one retry with a fresh token), e.g. to
   * take the call's turn under a rate gate and check that the job is still this worker's.
   * Resolving false skips the call; throwing cancels it.
   */
  beforeSend?: (api: string) => Promise<boolean>;
}

/** Every answer carries these when something went wrong; `errcode` 0 or absent is success. */
export interface WechatAnswer {
  errcode?: number;
  errmsg?: string;
}

/** What `media/get` gave for a customer's media: the file, or for a video the link WeChat serves it at. */
export type DownloadedMedia = { kind: 'file'; bytes: Buffer; contentType: string } | { kind: 'video'; videoUrl: string };

/** A call's method, query (besides the token), and body. */
export interface WechatRequest {
  method: 'GET' | 'POST';
  query?: Record<string, string>;
  contentType?: string;
  body?: string | Buffer;
}

/**
 * The WeChat Official Account API the relay calls, over a keep-alive pool. Every call takes the
 * fleet's token from the store; a token WeChat refuses (40001, 40014, 42001) is dropped and the
 * call made once more with a fresh one. Every answer's errcode is checked and turned into a typed
 * error; failures without an answer are told apart by whether the request may have reached WeChat
 * (uncertain) or not (transient). No URL, token or secret goes into an error. An API WeChat said
 * is over its daily quota (45009) is not called again until the quota may be back (DailyQuotas).
 */
export class WechatApi {
  /** The APIs over their daily quota, as this client last heard from WeChat. */
  readonly quotas: DailyQuotas;
  private readonly pool: Pool;
  private readonly timeoutMs: number;
  private readonly basePath: string;

  constructor(private readonly options: WechatApiOptions) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.quotas = options.quotas ?? new DailyQuotas();
    this.pool = new Pool(options.apiBase, { connections: options.connections ?? 16, keepAliveTimeout: 30_000, connectTimeout: this.timeoutMs });
    this.basePath = new URL(options.apiBase).pathname.replace(/\/$/, '');
  }

  get appId(): string {
    return this.options.appId;
  }

  /** Sends a customer-service message: true once WeChat took it, false when `beforeSend` skipped it. Not idempotent. */
  async sendCustom(message: CustomMessage, options: WechatCallOptions = {}): Promise<boolean> {
    const answer = await this.call(WECHAT_APIS.send, { method: 'POST', contentType: 'application/json', body: JSON.stringify(message) }, options);
    return answer !== undefined;
  }

  /** Uploads temporary media (kept 3 days): its media_id, or undefined when `beforeSend` skipped the call. */
  async uploadMedia(type: MediaType, bytes: Buffer, filename: string, contentType: string, options: WechatCallOptions = {}): Promise<string | undefined> {
    const form = multipartFile('media', bytes, filename, contentType);
    const answer = await this.call<{ media_id?: unknown }>(
      WECHAT_APIS.upload,
      { method: 'POST', query: { type }, contentType: form.contentType, body: form.body },
      options,
    );
    if (answer === undefined) return undefined;
    if (typeof answer.media_id !== 'string' || answer.media_id === '') throw new WechatUncertainError(WECHAT_APIS.upload, 0, 'answer carries no media_id');
    return answer.media_id;
  }

  /** Shows or cancels "typing…" to the customer: true once WeChat took it, false when skipped. */
  async typing(touser: string, command: TypingCommand, options: WechatCallOptions = {}): Promise<boolean> {
    const answer = await this.call(WECHAT_APIS.typing, { method: 'POST', contentType: 'application/json', body: JSON.stringify({ touser, command }) }, options);
    return answer !== undefined;
  }

  /**
   * Downloads what a customer sent (temporary media, kept 3 days): the bytes of a voice, image or
   * thumbnail, or a video's link (WeChat answers JSON `{video_url}` for videos). A file over
   * `maxBytes` is refused as permanent without holding more of it; undefined when `beforeSend`
   * skipped the call. Only reads: safe to repeat.
   */
  async getMedia(mediaId: string, maxBytes: number, options: WechatCallOptions = {}): Promise<DownloadedMedia | undefined> {
    return this.underQuota(WECHAT_APIS.download, () => this.withToken((token) => this.getMediaOnce(mediaId, maxBytes, token, options)));
  }

  /**
   * Runs `once` with the fleet's token; on a credential error that a new token may cure (40001,
   * 42001…), expires that token — only if it is still the one stored — and runs it once more.
   */
  private async withToken<R>(once: (token: string) => Promise<R>): Promise<R> {
    const token = await this.options.tokens.get();
    try {
      return await once(token);
    } catch (err) {
      if (!(err instanceof WechatCredentialError) || !err.renewable) throw err;
      await this.options.tokens.invalidate(token);
      return once(await this.options.tokens.get());
    }
  }

  private async getMediaOnce(mediaId: string, maxBytes: number, token: string, options: WechatCallOptions): Promise<DownloadedMedia | undefined> {
    const api = WECHAT_APIS.download;
    if (options.beforeSend !== undefined && !(await options.beforeSend(api))) return undefined;
    const started = performance.now();
    const done = (outcome: string) => this.options.afterCall?.(api, outcome, (performance.now() - started) / 1000);
    const query = new URLSearchParams({ access_token: token, media_id: mediaId });
    let status: number;
    let contentType: string | undefined;
    let bytes: Buffer | undefined;
    // A whole download within a deadline, not only each piece within the timeout: a link that
    // trickles a byte at a time would hold the customer's line for as long as it went on.
    const deadline = AbortSignal.timeout(this.timeoutMs + transferMs(maxBytes));
    try {
      const res = await this.pool.request({
        method: 'GET',
        path: `${this.basePath}/cgi-bin/${api}?${query.toString()}`,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: deadline,
      });
      status = res.statusCode;
      const type = res.headers['content-type'];
      contentType = Array.isArray(type) ? type[0] : type;
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        res.body.destroy();
        bytes = undefined;
      } else bytes = await readCapped(res.body, maxBytes);
    } catch (err) {
      done(deadline.aborted ? 'deadline' : 'network');
      // A download changes nothing at WeChat: whatever the failure, trying again is safe.
      throw networkFailure(api, err);
    }
    if (status !== 200) {
      done(`http_${status}`);
      throw new WechatUncertainError(api, 0, `HTTP ${status}`);
    }
    if (bytes === undefined) {
      done('too_large');
      throw new WechatPermanentError(api, 0, `the media is larger than ${maxBytes} bytes`);
    }
    const answer = readMediaAnswer(contentType, bytes);
    if (answer.kind === 'file') {
      done('ok');
      return { kind: 'file', bytes: answer.bytes, contentType: answer.contentType };
    }
    if (answer.kind === 'bad_json') {
      done('bad_json');
      throw new WechatUncertainError(api, 0, 'answer is not a JSON object');
    }
    this.checkAnswer(api, answer.answer, token, done);
    const videoUrl = videoLinkOf(answer.answer);
    if (videoUrl === undefined) {
      done('bad_json');
      throw new WechatPermanentError(api, 0, 'answer is neither a file nor a video link');
    }
    done('ok');
    return { kind: 'video', videoUrl };
  }

  /** Resolves to WeChat's answer, or undefined when `beforeSend` skipped the call. */
  async call<T extends object = object>(api: string, request: WechatRequest, options: WechatCallOptions = {}): Promise<(T & WechatAnswer) | undefined> {
    return this.underQuota(api, () => this.withToken((token) => this.callOnce<T>(api, token, request, options)));
  }

  /**
   * A call of `api`, unless WeChat said its daily quota is used up (see DailyQuotas): one that
   * WeChat answered (not skipped by `beforeSend`: undefined) ends that, and each reports its end.
   */
  private async underQuota<R>(api: string, call: () => Promise<R | undefined>): Promise<R | undefined> {
    const pass = this.quotas.check(api);
    try {
      const result = await call();
      if (result !== undefined) this.quotas.succeeded(api, pass);
      return result;
    } finally {
      this.quotas.tried(api, pass);
    }
  }

  private async callOnce<T extends object>(
    api: string,
    token: string,
    request: WechatRequest,
    options: WechatCallOptions,
  ): Promise<(T & WechatAnswer) | undefined> {
    if (options.beforeSend !== undefined && !(await options.beforeSend(api))) return undefined;
    const started = performance.now();
    const done = (outcome: string) => this.options.afterCall?.(api, outcome, (performance.now() - started) / 1000);
    const query = new URLSearchParams({ access_token: token, ...request.query });
    let status: number;
    let text: string;
    try {
      const res = await this.pool.request({
        method: request.method,
        path: `${this.basePath}/cgi-bin/${api}?${query.toString()}`,
        headers: request.contentType === undefined ? {} : { 'content-type': request.contentType },
        body: request.body ?? null,
        headersTimeout: this.timeoutMs + sendingMs(request.body),
        bodyTimeout: this.timeoutMs,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      done('network');
      throw networkFailure(api, err);
    }
    // WeChat answers 200 whatever the outcome; anything else came from a proxy or a fault midway.
    if (status !== 200) {
      done(`http_${status}`);
      throw new WechatUncertainError(api, 0, `HTTP ${status}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null) {
      done('bad_json');
      throw new WechatUncertainError(api, 0, 'answer is not a JSON object');
    }
    const answer = parsed as T & WechatAnswer;
    this.checkAnswer(api, answer, token, done);
    done('ok');
    return answer;
  }

  /** throwIfError, remembering an API WeChat says is over its daily quota. */
  private checkAnswer(api: string, answer: { errcode?: unknown; errmsg?: unknown }, token: string, done: (outcome: string) => void): void {
    try {
      throwIfError(api, answer, token, done);
    } catch (err) {
      // Waited for as long as the API is left alone, not to the day's end: the quota may come back sooner.
      if (err instanceof WechatRateLimitedError && err.dailyQuota) throw new WechatRateLimitedError(api, err.code, err.info, this.quotas.usedUp(api));
      throw err;
    }
  }

  /** Waits for the calls in flight, then closes the connections. */
  async close(): Promise<void> {
    await this.pool.close();
  }

  /** Aborts the calls in flight (each fails as uncertain) and closes the connections. */
  async destroy(): Promise<void> {
    await this.pool.destroy();
  }
}

/**
 * The slowest uplink a request body is given time for, 256 KiB/s (about 2 Mbit/s, a small cloud
 * machine's cap shared by a few uploads): the answer's wait starts once the body is handed to the
 * socket, not once it has left, so a 10 MB upload is given 40 s more than the timeout.
 */
const SLOWEST_UPLINK_BYTES_PER_S = 256 * 1024;

/** The time a request body may take to leave on the slowest uplink allowed for. */
function sendingMs(body: string | Buffer | undefined): number {
  return transferMs(body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length);
}

/** The time `bytes` take at that pace, either way (a download is given as long as an upload). */
function transferMs(bytes: number): number {
  return Math.ceil((bytes / SLOWEST_UPLINK_BYTES_PER_S) * 1000);
}

/** WeChat's errcode in an answer, as its classified error (the token redacted from errmsg); nothing when 0. */
function throwIfError(api: string, answer: { errcode?: unknown; errmsg?: unknown }, token: string, done: (outcome: string) => void): void {
  const errcode = Number(answer['errcode'] ?? 0);
  if (errcode === 0) return;
  done(String(errcode));
  const errmsg = answer['errmsg'];
  throw classifyWechatError(
    api,
    Number.isFinite(errcode) ? errcode : -1,
    redact(typeof errmsg === 'string' ? errmsg : typeof errmsg === 'number' ? String(errmsg) : '', [token]),
  );
}
