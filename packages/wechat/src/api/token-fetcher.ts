import { Pool } from 'undici';
import { classifyWechatError } from './errors/classify.js';
import { WechatTransientError } from './errors/transient-error.js';
import { redact } from './errors/wechat-api-error.js';
import { networkErrorCode } from './network-failure.js';

export type TokenApi = 'stable_token' | 'token';

export interface FetchedToken {
  token: string;
  /** What WeChat said is left of the token's life. */
  expiresInSeconds: number;
}

/** Where an access_token comes from: one HTTP call to WeChat. */
export interface TokenFetcher {
  readonly api: TokenApi;
  /** `forceRefresh` asks stable_token for a new token (and voids the current one); cgi-bin/token always issues one. */
  fetch(forceRefresh: boolean): Promise<FetchedToken>;
  close(): Promise<void>;
}

export interface TokenFetcherOptions {
  /** e.g. https://api.weixin.qq.com, or the simulator. */
  apiBase: string;
  appId: string;
  secret: string;
  timeoutMs?: number;
}

interface TokenAnswer {
  access_token?: unknown;
  expires_in?: unknown;
  errcode?: unknown;
  errmsg?: unknown;
}

/**
 * Fetches over a small pool of its own. A failure, whatever happened, is transient or a typed
 * errcode: fetching a token again is harmless. Neither the AppSecret (in the body, or the query of
 * cgi-bin/token) nor the token ever goes into an error.
 */
class HttpTokenFetcher implements TokenFetcher {
  private readonly pool: Pool;
  private readonly timeoutMs: number;
  private readonly basePath: string;

  constructor(
    readonly api: TokenApi,
    private readonly options: TokenFetcherOptions,
  ) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.pool = new Pool(options.apiBase, { connections: 2, keepAliveTimeout: 10_000, connectTimeout: this.timeoutMs });
    this.basePath = new URL(options.apiBase).pathname.replace(/\/$/, '');
  }

  async fetch(forceRefresh: boolean): Promise<FetchedToken> {
    const { appId, secret } = this.options;
    const request =
      this.api === 'stable_token'
        ? {
            method: 'POST' as const,
            path: `${this.basePath}/cgi-bin/stable_token`,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ grant_type: 'client_credential', appid: appId, secret, force_refresh: forceRefresh }),
          }
        : {
            method: 'GET' as const,
            path: `${this.basePath}/cgi-bin/token?${new URLSearchParams({ grant_type: 'client_credential', appid: appId, secret }).toString()}`,
          };
    let status: number;
    let text: string;
    try {
      const res = await this.pool.request({ ...request, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      throw new WechatTransientError(this.api, 0, `network error ${networkErrorCode(err)}`);
    }
    if (status !== 200) throw new WechatTransientError(this.api, 0, `HTTP ${status}`);
    let answer: TokenAnswer;
    try {
      answer = JSON.parse(text) as TokenAnswer;
    } catch {
      throw new WechatTransientError(this.api, 0, 'answer is not JSON');
    }
    const errcode = Number(answer.errcode ?? 0);
    if (errcode !== 0) throw classifyWechatError(this.api, errcode, redact(typeof answer.errmsg === 'string' ? answer.errmsg : '', [secret]));
    if (typeof answer.access_token !== 'string' || answer.access_token === '') throw new WechatTransientError(this.api, 0, 'answer carries no access_token');
    const expiresIn = Number(answer.expires_in);
    return { token: answer.access_token, expiresInSeconds: Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 7200 };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/**
 * POST /cgi-bin/stable_token: the same token until it nears its end (WeChat renews it in its last
 * 5 minutes, the old one staying valid meanwhile), apart from cgi-bin/token's. The default.
 */
export function stableToken(options: TokenFetcherOptions): TokenFetcher {
  return new HttpTokenFetcher('stable_token', options);
}

/** GET /cgi-bin/token: a new token on every call, which voids the previous one after about 5 minutes. */
export function clientCredentialToken(options: TokenFetcherOptions): TokenFetcher {
  return new HttpTokenFetcher('token', options);
}
