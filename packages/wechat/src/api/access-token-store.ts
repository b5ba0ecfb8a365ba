import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RelayScripts, relayScripts } from '@wxim/redis-scripts';
import type { Cluster, Redis } from 'ioredis';
import { WechatApiError } from './errors/wechat-api-error.js';
import { WechatTransientError } from './errors/transient-error.js';
import type { FetchedToken, TokenApi, TokenFetcher } from './token-fetcher.js';

export interface StoredToken {
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** Where the fleet's token and its renewal live in Redis: the relay's state keys build them. */
export interface AccessTokenKeys {
  /** The fleet's one token. */
  token: string;
  /** Held by the one process fetching the next token. */
  lock: string;
  /** A digest of the token WeChat last refused. */
  failed: string;
  /** Set while a forced refresh would be too soon. */
  forced: string;
}

export interface AccessTokenStoreOptions {
  redis: Redis | Cluster;
  keys: AccessTokenKeys;
  fetcher: TokenFetcher;
  /** A token with less than this left is renewed (default 5 minutes: stable_token renews within its last 5). */
  renewalMarginMs?: number;
  /** How long a process that did not get the lock waits for another's fetch (default 10 s). */
  waitMs?: number;
  pollMs?: number;
  /** The lock's life: longer than two fetches (default 15 s). */
  lockMs?: number;
  /** Called after every fetch from WeChat with its outcome (`ok` or the error's code), for metrics. */
  onFetch?: (api: TokenApi, outcome: string, forced: boolean) => void;
}

/** Long enough to outlive the failed token itself. */
const FAILED_MARK_MS = 2 * 3_600_000;
/** WeChat refreshes a stable token by force at most every 30 s. */
const FORCE_INTERVAL_MS = 30_000;

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * The fleet's one access_token, kept in Redis: every process reads it there, and when it nears its
 * end one process (the one holding a short lock) fetches the next while the others keep using the
 * old one or wait for the new. Tokens several processes fetched on their own would void each other
 * (40001), WeChat's most reported trouble.
 */
export class AccessTokenStore {
  private readonly redis: (Redis | Cluster) & RelayScripts;
  private readonly keys: AccessTokenKeys;
  private readonly marginMs: number;
  private readonly waitMs: number;
  private readonly pollMs: number;
  private readonly lockMs: number;

  constructor(private readonly options: AccessTokenStoreOptions) {
    relayScripts(options.redis);
    this.redis = options.redis as (Redis | Cluster) & RelayScripts;
    this.keys = options.keys;
    this.marginMs = options.renewalMarginMs ?? 300_000;
    this.waitMs = options.waitMs ?? 10_000;
    this.pollMs = options.pollMs ?? 100;
    this.lockMs = options.lockMs ?? 15_000;
  }

  /** A token to call WeChat with: the stored one while it has more than the margin left, else a fresh one. */
  async get(): Promise<string> {
    const stored = await this.read();
    if (stored !== undefined && this.fresh(stored)) return stored.token;
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      const owner = randomBytes(12).toString('base64url');
      if ((await this.redis.set(this.keys.lock, owner, 'PX', this.lockMs, 'NX')) === 'OK') {
        try {
          return await this.renew();
        } finally {
          await this.redis.wximLockRelease(this.keys.lock, owner);
        }
      }
      // Another process is fetching: the old token serves while it lasts, else its result is awaited.
      const current = await this.read();
      if (current !== undefined && current.expiresAt > Date.now() + 1000) return current.token;
      if (Date.now() >= deadline)
        throw new WechatTransientError(this.options.fetcher.api, 0, `no access token after waiting ${this.waitMs} ms for another process`);
      await sleep(this.pollMs);
    }
  }

  /**
   * WeChat refused `failedToken` (40001, 40014, 42001): drop it if it is still the stored one (a
   * process that used an older token must not drop the new one), and remember it so that a fetch
   * handing it back is followed by a forced refresh. Resolves whether it was dropped.
   */
  async invalidate(failedToken: string): Promise<boolean> {
    await this.redis.set(this.keys.failed, digest(failedToken), 'PX', FAILED_MARK_MS);
    return (await this.redis.wximTokenDropIfStored(this.keys.token, failedToken)) === 1;
  }

  /** The stored token, if any. */
  async read(): Promise<StoredToken | undefined> {
    const raw = await this.redis.get(this.keys.token);
    if (raw === null) return undefined;
    try {
      const doc = JSON.parse(raw) as Partial<StoredToken>;
      return typeof doc.token === 'string' && typeof doc.expiresAt === 'number' ? { token: doc.token, expiresAt: doc.expiresAt } : undefined;
    } catch {
      return undefined;
    }
  }

  private fresh(stored: StoredToken): boolean {
    return stored.expiresAt - Date.now() > this.marginMs;
  }

  /** Under the lock: another process may have stored a fresh token meanwhile; else fetch and store. */
  private async renew(): Promise<string> {
    const stored = await this.read();
    if (stored !== undefined && this.fresh(stored)) return stored.token;
    const startedAt = Date.now();
    let fetched = await this.fetch(false);
    if (this.options.fetcher.api === 'stable_token' && (await this.redis.get(this.keys.failed)) === digest(fetched.token)) {
      // stable_token handed back the very token WeChat just refused: only a forced refresh replaces
      // it, and WeChat takes one per 30 s (20 a day), so the fleet asks for one at most that often.
      if ((await this.redis.set(this.keys.forced, '1', 'PX', FORCE_INTERVAL_MS, 'NX')) !== 'OK')
        throw new WechatTransientError('stable_token', 0, 'the refused token came back and a forced refresh was made less than 30 s ago');
      fetched = await this.fetch(true);
    }
    const lifeMs = Math.floor(fetched.expiresInSeconds * 1000);
    await this.redis.set(this.keys.token, JSON.stringify({ token: fetched.token, expiresAt: startedAt + lifeMs } satisfies StoredToken), 'PX', lifeMs);
    return fetched.token;
  }

  private async fetch(forced: boolean): Promise<FetchedToken> {
    const { fetcher, onFetch } = this.options;
    try {
      const fetched = await fetcher.fetch(forced);
      onFetch?.(fetcher.api, 'ok', forced);
      return fetched;
    } catch (err) {
      onFetch?.(fetcher.api, err instanceof WechatApiError && err.code !== 0 ? String(err.code) : 'network', forced);
      throw err;
    }
  }
}
