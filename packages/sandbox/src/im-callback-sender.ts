import { AFTER_MSG_WITHDRAW, AFTER_SEND_MSG, STATE_CHANGE, callbackSign } from '@wxim/im';
import type { ReceivedMessage } from './im-simulator.js';

/** How long IM waits for a callback's answer. */
export const IM_CALLBACK_BUDGET_MS = 2000;

export interface CallbackTarget {
  url: string;
  /** The callback authentication token: with it IM adds RequestTime and Sign to the query. */
  token?: string;
}

/**
 * `ok`: answered `CALLBACK_OK` in time; `refused`: answered otherwise; `timeout`: no answer within
 * IM's budget; `error`: the request failed (connection refused, reset); `lost`: never sent.
 */
export type CallbackOutcome = 'ok' | 'refused' | 'timeout' | 'error' | 'lost';

export interface CallbackRecord {
  command: string;
  /** What IM appended to the callback URL. */
  query: Record<string, string>;
  /** The JSON body sent. */
  payload: Record<string, unknown>;
  /** Milliseconds since the epoch when it was sent (or would have been). */
  at: number;
  outcome: CallbackOutcome;
  /** Answered `{"ActionStatus":"OK","ErrorCode":0}` with HTTP 200 within the budget. */
  delivered: boolean;
  status?: number;
  /** The receiver's answer: its JSON, or its text when not JSON. */
  answer?: unknown;
  /** How long the answer took (the budget on a timeout, 0 when lost). */
  ms: number;
  error?: string;
}

/**
 * The IM simulator's side of the third-party callbacks: POSTs each callback once to the configured
 * URL with IM's query, waits at most IM's budget and records what came back. Never retries, as IM
 * does not for after-event callbacks; `loseNext` cuts the network for the next few.
 */
export class ImCallbackSender {
  readonly records: CallbackRecord[] = [];
  private target: CallbackTarget | undefined;
  private toLose = 0;
  private toHold: Promise<void>[] = [];
  private readonly inFlight = new Set<Promise<CallbackRecord | undefined>>();
  /** How long an answer is waited for: IM's budget, unless a test lifts it (see `ImSimulator.liftCallbackBudget`). */
  budgetMs = IM_CALLBACK_BUDGET_MS;

  constructor(
    private readonly sdkAppId: number,
    target?: CallbackTarget,
  ) {
    this.setTarget(target);
  }

  /** Throws on a URL that cannot be parsed: a misconfiguration shows at once, not as lost callbacks. */
  setTarget(target: CallbackTarget | undefined): void {
    if (target !== undefined) new URL(target.url);
    this.target = target;
  }

  /** The next `times` callbacks are not sent at all (their events still happen). */
  loseNext(times: number): void {
    this.toLose += times;
  }

  /**
   * The next callback waits until `release` is called before it goes (IM's callbacks are separate
   * requests: one sent later may arrive first).
   */
  holdNext(): () => void {
    let release!: () => void;
    this.toHold.push(new Promise<void>((resolve) => (release = resolve)));
    return release;
  }

  /** Sends one callback; resolves to its record, or undefined when no callback URL is configured. Never rejects. */
  send(command: string, payload: Record<string, unknown>, from: { optPlatform: string; clientIp: string }): Promise<CallbackRecord | undefined> {
    const held = this.toHold.shift();
    const sending = held === undefined ? this.sendOnce(command, payload, from) : held.then(() => this.sendOnce(command, payload, from));
    this.inFlight.add(sending);
    void sending.finally(() => this.inFlight.delete(sending));
    return sending;
  }

  /** Resolves when every callback sent so far has its outcome. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  private async sendOnce(
    command: string,
    payload: Record<string, unknown>,
    from: { optPlatform: string; clientIp: string },
  ): Promise<CallbackRecord | undefined> {
    const target = this.target;
    if (target === undefined) return undefined;
    const at = Date.now();
    const query: Record<string, string> = {
      SdkAppid: String(this.sdkAppId),
      CallbackCommand: command,
      contenttype: 'json',
      ClientIP: from.clientIp,
      OptPlatform: from.optPlatform,
    };
    if (target.token !== undefined) {
      const requestTime = String(Math.floor(at / 1000));
      query['RequestTime'] = requestTime;
      query['Sign'] = callbackSign(target.token, requestTime);
    }
    const record = (outcome: CallbackOutcome, rest: Partial<CallbackRecord> & { ms: number }): CallbackRecord => {
      const r: CallbackRecord = { command, query, payload, at, outcome, delivered: outcome === 'ok', ...rest };
      this.records.push(r);
      return r;
    };
    if (this.toLose > 0) {
      this.toLose--;
      return record('lost', { ms: 0 });
    }
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const url = new URL(target.url);
      for (const [k, v] of Object.entries(query)) url.searchParams.append(k, v);
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(this.budgetMs),
      });
      const text = await res.text();
      const answer = parseJson(text);
      const ok = res.status === 200 && isOk(answer);
      return record(ok ? 'ok' : 'refused', { status: res.status, answer, ms: elapsed() });
    } catch (err) {
      const e = err as { name?: string; message?: string; cause?: { code?: string } };
      if (e.name === 'TimeoutError') return record('timeout', { ms: this.budgetMs, error: `no answer within ${this.budgetMs} ms` });
      return record('error', { ms: elapsed(), error: e.cause?.code ?? e.message ?? String(err) });
    }
  }
}

/** The body of C2C.CallbackAfterSendMsg for a message IM stored and delivered. */
export function afterSendMsgPayload(m: ReceivedMessage, unreadMsgNum: number, eventTime: number, onlineOnly = false): Record<string, unknown> {
  return {
    CallbackCommand: AFTER_SEND_MSG,
    From_Account: m.from,
    To_Account: m.to,
    MsgSeq: m.msgSeq,
    MsgRandom: m.msgRandom,
    MsgTime: Math.floor(m.receivedAt / 1000),
    MsgKey: m.msgKey,
    OnlineOnlyFlag: onlineOnly ? 1 : 0,
    MsgBody: m.body,
    CloudCustomData: m.cloudCustomData ?? '',
    SendMsgResult: 0,
    ErrorInfo: 'send msg succeed',
    UnreadMsgNum: unreadMsgNum,
    EventTime: eventTime,
  };
}

/** The body of C2C.CallbackAfterMsgWithDraw (newer pages of IM's documentation: EventTime, no UnreadMsgNum). */
export function msgWithdrawPayload(m: Pick<ReceivedMessage, 'from' | 'to' | 'msgKey'>, eventTime: number): Record<string, unknown> {
  return { CallbackCommand: AFTER_MSG_WITHDRAW, From_Account: m.from, To_Account: m.to, MsgKey: m.msgKey, EventTime: eventTime };
}

/** The body of State.StateChange. */
export function stateChangePayload(account: string, action: string, reason: string, eventTime: number): Record<string, unknown> {
  return { CallbackCommand: STATE_CHANGE, EventTime: eventTime, Info: { Action: action, To_Account: account, Reason: reason } };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function isOk(answer: unknown): boolean {
  const a = answer as { ActionStatus?: unknown; ErrorCode?: unknown } | null;
  return typeof a === 'object' && a !== null && a.ActionStatus === 'OK' && a.ErrorCode === 0;
}
