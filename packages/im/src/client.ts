import { Pool } from 'undici';
import { ImCredentialError } from './errors/credential-error.js';
import { classifyImError } from './errors/classify.js';
import { ImTransientError } from './errors/transient-error.js';
import type { MsgElement } from './elements.js';
import type { UserSigCache } from './usersig.js';

export interface ImClientOptions {
  sdkAppId: number;
  admin: string;
  userSig: UserSigCache;
  /** e.g. https://console.tim.qq.com (or a regional domain, or the simulator). */
  apiBase: string;
  /** Per call, connect to last byte. */
  timeoutMs?: number;
  connections?: number;
  /** Called after every call with its outcome (`ok` or the error code), for metrics. */
  afterCall?: (command: string, outcome: string, seconds: number) => void;
}

export interface ImResponse {
  ActionStatus: 'OK' | 'FAIL';
  ErrorCode: number;
  ErrorInfo: string;
}

export interface C2CMessage {
  from: string;
  to: string;
  msgSeq: number;
  msgRandom: number;
  body: MsgElement[];
  cloudCustomData?: string;
}

/** A message of a one-to-one history (admin_getroammsg). */
export interface RoamMessage {
  From_Account: string;
  To_Account: string;
  MsgSeq: number;
  MsgRandom: number;
  MsgTimeStamp: number;
  MsgKey: string;
  MsgBody: { MsgType: string; MsgContent: Record<string, unknown> }[];
  CloudCustomData?: string;
  /** 0: a normal message; 8: recalled by its sender (see isRecalled). */
  MsgFlagBits?: number;
}

/** A one-to-one conversation in an account's conversation list. */
export interface RecentContact {
  peer: string;
  /** Seconds: when its latest message was sent. */
  msgTime: number;
}

/** What one call may be given besides its body. */
export interface CallOptions {
  /**
   * Runs right before the request leaves, e.g. to wait for the call's turn under IM's rate limit
   * and check that the job the call is made for is still this worker's. Resolving false skips the
   * call (its method resolves to undefined); throwing cancels it.
   */
  beforeSend?: (command: string) => Promise<boolean>;
}

const HISTORY = 'openim/admin_getroammsg';

/** A conversation's history is read at most this many pages (100 messages each) for one time range. */
const MAX_HISTORY_PAGES = 1000;

/** Our own sends must not come back to us through the C2C callbacks. */
const FORBID_CALLBACKS = ['ForbidBeforeSendMsgCallback', 'ForbidAfterSendMsgCallback'];

/**
 * Tencent IM REST over a keep-alive pool. Every call carries a fresh `random`; every 200 has its
 * `ErrorCode` checked and turned into a typed error; an expired UserSig (70001) is renewed and
 * the call made once more. Error messages never include the URL (it carries the UserSig).
 */
export class ImClient {
  private readonly pool: Pool;
  private readonly timeoutMs: number;
  /** `<path>/v4/`, from the API base. */
  private readonly v4: string;
  /** The query up to `random`, rebuilt only when the UserSig changes. */
  private signed = { userSig: '', query: '' };

  constructor(private readonly options: ImClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.pool = new Pool(options.apiBase, { connections: options.connections ?? 16, keepAliveTimeout: 30_000, connectTimeout: this.timeoutMs });
    this.v4 = `${new URL(options.apiBase).pathname.replace(/\/$/, '')}/v4/`;
  }

  private query(): string {
    const userSig = this.options.userSig.get();
    if (userSig !== this.signed.userSig) {
      const fixed = new URLSearchParams({ sdkappid: String(this.options.sdkAppId), identifier: this.options.admin, usersig: userSig });
      this.signed = { userSig, query: fixed.toString() };
    }
    // `random` only tells calls apart (IM asks for any uint32 per call): no need for crypto.
    return `${this.signed.query}&random=${Math.floor(Math.random() * 2 ** 32)}&contenttype=json`;
  }

  /** Resolves to IM's answer, or undefined when `beforeSend` skipped the call. */
  async call<T extends object = object>(command: string, body: object, options: CallOptions = {}): Promise<(T & ImResponse) | undefined> {
    try {
      return await this.callOnce<T>(command, body, options);
    } catch (err) {
      if (!(err instanceof ImCredentialError) || !err.renewable) throw err;
      this.options.userSig.renew();
      return this.callOnce<T>(command, body, options);
    }
  }

  private async callOnce<T extends object>(command: string, body: object, options: CallOptions): Promise<(T & ImResponse) | undefined> {
    if (options.beforeSend !== undefined && !(await options.beforeSend(command))) return undefined;
    const started = performance.now();
    const done = (outcome: string) => this.options.afterCall?.(command, outcome, (performance.now() - started) / 1000);
    const path = `${this.v4}${command}?${this.query()}`;
    let status: number;
    let text: string;
    try {
      const res = await this.pool.request({
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      done('network');
      const e = err as { code?: string; name?: string };
      throw new ImTransientError(command, 0, `network error ${e.code ?? e.name ?? 'unknown'}`);
    }
    if (status !== 200) {
      done(`http_${status}`);
      throw new ImTransientError(command, 0, `HTTP ${status}`);
    }
    let json: T & ImResponse;
    try {
      json = JSON.parse(text) as T & ImResponse;
    } catch {
      done('bad_json');
      throw new ImTransientError(command, 0, 'answer is not JSON');
    }
    if (json.ErrorCode !== 0 || json.ActionStatus !== 'OK') {
      done(String(json.ErrorCode));
      throw classifyImError(command, Number(json.ErrorCode) || -1, String(json.ErrorInfo ?? ''));
    }
    done('ok');
    return json;
  }

  /**
   * Each account's online state over all its devices (openim/query_online_status, at most 500 a
   * call): `Online` while one of its clients is connected, `PushOnline` when only a backgrounded
   * app reachable by offline push is, `Offline` otherwise. Accounts IM does not know are left out.
   * Undefined when `beforeSend` skipped the call.
   */
  async onlineStatus(accounts: readonly string[], options: CallOptions = {}): Promise<Map<string, string> | undefined> {
    const res = await this.call<{ QueryResult?: { To_Account: string; Status: string }[] }>('openim/query_online_status', { To_Account: accounts }, options);
    if (res === undefined) return undefined;
    return new Map((res.QueryResult ?? []).map((r) => [r.To_Account, r.Status]));
  }

  /** Idempotent: importing an existing account succeeds. */
  async importAccount(userId: string, options: CallOptions = {}): Promise<void> {
    await this.call('im_open_login_svc/account_import', { UserID: userId }, options);
  }

  async deleteAccounts(userIds: string[], options: CallOptions = {}): Promise<void> {
    await this.call('im_open_login_svc/account_delete', { DeleteItem: userIds.map((UserID) => ({ UserID })) }, options);
  }

  /** One-to-one message from `from` (any imported account) to `to`, as the admin; undefined when `beforeSend` skipped it. */
  async sendC2C(msg: C2CMessage, options: CallOptions = {}): Promise<{ MsgTime: number; MsgKey: string } | undefined> {
    return this.call<{ MsgTime: number; MsgKey: string }>(
      'openim/sendmsg',
      {
        SyncOtherMachine: 1,
        From_Account: msg.from,
        To_Account: msg.to,
        MsgSeq: msg.msgSeq,
        MsgRandom: msg.msgRandom,
        MsgBody: msg.body,
        ...(msg.cloudCustomData === undefined ? {} : { CloudCustomData: msg.cloudCustomData }),
        ForbidCallbackControl: FORBID_CALLBACKS,
      },
      options,
    );
  }

  /**
   * Overwrites the CloudCustomData of a one-to-one message IM holds (openim/modify_c2c_msg), found
   * by its sender, recipient and MsgKey; its MsgBody is left as it is. IM calls no callback for
   * an edit. Resolves false when `beforeSend` skipped the call.
   */
  async modifyC2CCustomData(msg: { from: string; to: string; msgKey: string; cloudCustomData: string }, options: CallOptions = {}): Promise<boolean> {
    const res = await this.call(
      'openim/modify_c2c_msg',
      { From_Account: msg.from, To_Account: msg.to, MsgKey: msg.msgKey, CloudCustomData: msg.cloudCustomData },
      options,
    );
    return res !== undefined;
  }

  /**
   * The one-to-one history between `a` and `b` (both directions) sent between `minTime` and
   * `maxTime` (seconds), newest first, page by page (admin_getroammsg, 100 a page), until complete.
   */
  async *history(a: string, b: string, minTime: number, maxTime: number, options: CallOptions = {}): AsyncGenerator<RoamMessage[]> {
    let lastMsgKey: string | undefined;
    let upTo = maxTime;
    for (let page = 0; page < MAX_HISTORY_PAGES; page++) {
      const res = await this.call<{ Complete?: number; LastMsgTime?: number; LastMsgKey?: string; MsgList?: RoamMessage[] }>(
        HISTORY,
        { Operator_Account: a, Peer_Account: b, MaxCnt: 100, MinTime: minTime, MaxTime: upTo, ...(lastMsgKey ? { LastMsgKey: lastMsgKey } : {}) },
        options,
      );
      if (res === undefined) throw new Error('the history look-up was cancelled');
      const list = res.MsgList ?? [];
      if (list.length > 0) yield list;
      if (res.Complete === 1) return;
      // An empty page with nowhere to go on from: nothing more to read.
      if (list.length === 0 && !res.LastMsgKey) return;
      // More to come, but nowhere new to go on from: an answer of IM's that cannot be read to its
      // end is a failed look (tried again, then owed), never a history taken as complete.
      if (!res.LastMsgKey || res.LastMsgKey === lastMsgKey)
        throw new ImTransientError(HISTORY, 0, 'the history said more was to come but gave no new place to go on from');
      lastMsgKey = res.LastMsgKey;
      upTo = res.LastMsgTime ?? upTo;
    }
    throw new ImTransientError(HISTORY, 0, `the history ran on past ${MAX_HISTORY_PAGES} pages`);
  }

  /**
   * An account's conversation list (recentcontact/get_list), page by page until complete: each
   * one-to-one conversation's peer and the time of its latest message (seconds). Pinned
   * conversations come with the others.
   */
  async *recentContacts(account: string, options: CallOptions = {}): AsyncGenerator<RecentContact[]> {
    let cursor = { TimeStamp: 0, StartIndex: 0, TopTimeStamp: 0, TopStartIndex: 0 };
    for (let page = 0; page < 100; page++) {
      const res = await this.call<{
        SessionItem?: { Type: number; To_Account?: string; MsgTime?: number }[];
        CompleteFlag?: number;
        TimeStamp?: number;
        StartIndex?: number;
        TopTimeStamp?: number;
        TopStartIndex?: number;
      }>('recentcontact/get_list', { From_Account: account, ...cursor, AssistFlags: 7 }, options);
      if (res === undefined) throw new Error('the conversation list look-up was cancelled');
      const items = res.SessionItem ?? [];
      const contacts = items.flatMap((i) => (i.Type === 1 && i.To_Account !== undefined ? [{ peer: i.To_Account, msgTime: i.MsgTime ?? 0 }] : []));
      if (contacts.length > 0) yield contacts;
      if (res.CompleteFlag === 1 || items.length === 0) return;
      cursor = { TimeStamp: res.TimeStamp ?? 0, StartIndex: res.StartIndex ?? 0, TopTimeStamp: res.TopTimeStamp ?? 0, TopStartIndex: res.TopStartIndex ?? 0 };
    }
  }

  /**
   * Whether IM holds a one-to-one message from `from` to `to` with this MsgSeq and MsgRandom, sent
   * between `minTime` and `maxTime` (seconds). Used before resending a message whose earlier
   * attempt may have been delivered longer ago than IM's 120-second duplicate window.
   */
  async hasC2CMessage(
    from: string,
    to: string,
    msgSeq: number,
    msgRandom: number,
    minTime: number,
    maxTime: number,
    options: CallOptions = {},
  ): Promise<boolean> {
    for await (const page of this.history(from, to, minTime, maxTime, options)) {
      if (page.some((m) => m.From_Account === from && m.MsgSeq === msgSeq && m.MsgRandom === msgRandom)) return true;
    }
    return false;
  }

  /** Waits for the calls in flight, then closes the connections. */
  async close(): Promise<void> {
    await this.pool.close();
  }

  /** Aborts the calls in flight (each fails as a network error) and closes the connections. */
  async destroy(): Promise<void> {
    await this.pool.destroy();
  }
}
