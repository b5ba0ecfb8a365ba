import { randomInt } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AFTER_MSG_WITHDRAW,
  AFTER_SEND_MSG,
  IM_DEFAULT_LIMIT,
  RECALLED_FLAG,
  STATE_CHANGE,
  typingData,
  type UserSigDocument,
  decodeRelayCustomData,
  paceFor,
  verifyUserSig,
} from '@wxim/im';
import { listenAt } from './listen.js';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { type FaultKind, FaultInjecting, type Faults } from './fault-plan.js';
import { FrequencyLimiter } from './frequency-limiter.js';
import { agentRoutes } from './im-agent-routes.js';
import {
  type CallbackRecord,
  type CallbackTarget,
  ImCallbackSender,
  afterSendMsgPayload,
  msgWithdrawPayload,
  stateChangePayload,
} from './im-callback-sender.js';

export type { FaultKind, Faults } from './fault-plan.js';

export interface ImSimulatorOptions {
  sdkAppId: number;
  secretKey: string;
  admin?: string;
  /** Agent accounts that exist from the start, logged in (on `Web`: query_online_status has them Online). */
  agents?: readonly string[];
  /** Pro/Ultimate/Enterprise editions refuse to re-import a deleted UserID for 3 months (70399). */
  refuseReimport?: boolean;
  /** IM drops a repeat of (sender, MsgSeq, MsgRandom, content) within this window. */
  dedupeWindowMs?: number;
  /**
   * IM's frequency limit: calls per second of a command IM allows 200 of (others in proportion,
   * e.g. account_delete half), answered 60007 above it within any one-second window. IM's own 200
   * by default; `false` lifts it (label such a run).
   */
  rateLimit?: number | false;
  /** Where IM posts its third-party callbacks (C2C.CallbackAfterSendMsg, State.StateChange); none without it. */
  callback?: CallbackTarget;
  /** How long a message takes to show in the history (admin_getroammsg) after it was sent: IM's may trail its callback. 0 by default. */
  historyLagMs?: number;
  /** Every REST answer waits this long, as IM's does from a distant region (0 by default). */
  latencyMs?: number;
  /** How many of an account's latest conversations its conversation list keeps (IM's default edition: 100). */
  conversationListCap?: number;
}

export interface ReceivedMessage {
  from: string;
  to: string;
  msgSeq: number;
  msgRandom: number;
  body: { MsgType: string; MsgContent: Record<string, unknown> }[];
  cloudCustomData?: string;
  forbidCallbackControl?: string[];
  /** Milliseconds since the epoch when the simulator accepted it. */
  receivedAt: number;
  msgKey: string;
  /** Recalled by its sender: IM's history still lists it, flagged (MsgFlagBits 8). */
  recalled?: true;
}

/** What an agent's message from the simulated client came to. */
export interface AgentSendResult {
  msgKey: string;
  /** Seconds. */
  msgTime: number;
  /** The after-send callback was answered OK within IM's 2 s. */
  delivered: boolean;
}

export interface SimulatorStats {
  calls: number;
  /** Calls answered 60007 because they came over the frequency limit. */
  rateLimited: number;
  faults: Record<FaultKind, number>;
  duplicatesDropped: number;
  messages: number;
  /** Stored messages overwritten by modify_c2c_msg. */
  modified: number;
}

const MAX_BODY_BYTES = 8 * 1024;
const OK = { ActionStatus: 'OK', ErrorCode: 0, ErrorInfo: '' } as const;
type ImAnswer = { ActionStatus: string; ErrorCode: number; ErrorInfo: string } & Record<string, unknown>;
const imError = (code: number, info: string): ImAnswer => ({ ActionStatus: 'FAIL', ErrorCode: code, ErrorInfo: info });

/**
 * Tencent IM's REST API as far as the relay uses it: checks the UserSig and app id, keeps
 * accounts, deduplicates sendmsg as IM does, records what it got, and injects faults on demand.
 * It also plays the agents' clients: their messages are stored as IM stores them and reported to
 * the callback URL, as are their logins and logouts. Runs in-process (tests) or on its own port
 * (sandbox mode, benchmarks), with `/sim/*` to inspect and drive it.
 */
export class ImSimulator extends FaultInjecting {
  readonly app: FastifyInstance;
  readonly accounts = new Map<string, { nick?: string }>();
  readonly deleted = new Map<string, number>();
  readonly messages: ReceivedMessage[] = [];
  readonly stats: SimulatorStats = { calls: 0, rateLimited: 0, faults: this.plan.counts, duplicatesDropped: 0, messages: 0, modified: 0 };
  /** The limit's state and record: per command, when its latest calls were let through, and how many in each second. */
  private readonly limiter = new FrequencyLimiter();
  private readonly recent = new Map<string, { at: number; msgKey: string }>();
  private readonly verifiedSigs = new Map<string, UserSigDocument>();
  private readonly admin: string;
  private readonly dedupeWindowMs: number;
  private readonly rateLimit: number | false;
  private listeners: ((m: ReceivedMessage) => void)[] = [];
  /** Makes MsgKeys unique; a counter, not random bytes, which cost a getpid per call in OpenSSL. */
  private msgKeySerial = 0;
  private readonly callbackSender: ImCallbackSender;
  /** Messages stored per recipient: UnreadMsgNum of the after-send callback (nobody reads here). */
  private readonly unread = new Map<string, number>();
  /** The MsgSeq the simulated agent clients give their messages. */
  private agentMsgSeq = 0;
  /** See ImSimulatorOptions.historyLagMs; tests change it as they go. */
  historyLagMs: number;
  /** Every modify_c2c_msg IM took, in order: what it wrote into which message (the sandbox page and tests read it). */
  readonly modifications: { msgKey: string; cloudCustomData?: string; at: number }[] = [];
  /** Accounts whose one-to-one history IM answers with an error code (a fault of one conversation): tests set them. */
  readonly historyRefused = new Map<string, number>();
  /** A history read IM answers with an error code when this says one (by what it asks: a test tells one read from another). */
  historyRefusedIf: ((read: { operator: string; peer: string; minTime: number; maxTime: number }) => number | undefined) | undefined;
  /** Accounts whose one-to-one messages (sent by or to them) IM answers with an error code: tests set them. */
  readonly sendRefused = new Map<string, number>();
  /**
   * One side's deletions of a one-to-one conversation (a client's deleteConversation, which clears
   * its messages on IM's server for that side): `<account>\n<peer>` → when. Read from that side, the
   * history and the conversation list no longer show what came before; read from the other, all is there.
   */
  private readonly deletedBySide = new Map<string, number>();
  /** Each agent's devices connected now (agentLogin to agentLogout or agentDisconnect): query_online_status reads them. */
  private readonly onlineDevices = new Map<string, Set<string>>();

  constructor(readonly options: ImSimulatorOptions) {
    super();
    this.admin = options.admin ?? 'administrator';
    this.dedupeWindowMs = options.dedupeWindowMs ?? 120_000;
    this.rateLimit = options.rateLimit ?? IM_DEFAULT_LIMIT;
    this.historyLagMs = options.historyLagMs ?? 0;
    // The agents are at their desks: logged in on the web client until a test logs them out.
    for (const agent of options.agents ?? []) {
      this.accounts.set(agent, {});
      this.onlineDevices.set(agent, new Set(['Web']));
    }
    this.accounts.set(this.admin, {});
    this.callbackSender = new ImCallbackSender(options.sdkAppId, options.callback);
    this.app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
    this.routes();
  }

  /** Resolves when `count` messages to `to` (or in all) have been received. */
  onMessage(listener: (m: ReceivedMessage) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  messagesBetween(from: string, to?: string): ReceivedMessage[] {
    return this.messages.filter((m) => m.from === from && (to === undefined || m.to === to));
  }

  /**
   * The same messages as IM's history shows them: by the second IM stored each, then by MsgSeq
   * within a second (the sender chooses MsgSeq; IM does not make it follow arrival).
   */
  historyBetween(from: string, to?: string): ReceivedMessage[] {
    return this.messagesBetween(from, to).sort(historyOrder);
  }

  /** Sets (or replaces) where the callbacks go. */
  setCallback(url: string, token?: string): void {
    this.callbackSender.setTarget({ url, ...(token === undefined ? {} : { token }) });
  }

  /** The next `times` callbacks are not sent at all, as if the network were cut; their messages are still stored. */
  callbackLost(times = 1): void {
    this.callbackSender.loseNext(times);
  }

  /** The next callback is held until the function returned is called: a later one may overtake it. */
  callbackHeld(): () => void {
    return this.callbackSender.holdNext();
  }

  /**
   * Waits `ms` for each callback's answer rather than IM's 2 s (`IM_CALLBACK_BUDGET_MS`). Only for
   * a test whose claim is not the answer's time and whose own process sends so much at once that
   * its requests wait for this process's CPU before they leave it (IM's servers do not share the
   * relay's cores); a record's `ms` still says how long each answer took.
   */
  liftCallbackBudget(ms: number): void {
    this.callbackSender.budgetMs = ms;
  }

  /** Every callback the simulator sent or lost, in order, with its outcome. */
  get callbacks(): readonly CallbackRecord[] {
    return this.callbackSender.records;
  }

  /** Resolves when every callback so far has its outcome (REST sends call back without waiting). */
  async callbacksSettled(): Promise<void> {
    await this.callbackSender.settled();
  }

  /**
   * A message from an agent's client (`from`) to `to`: stored as IM stores a sendmsg (its own
   * MsgSeq, MsgRandom and MsgKey; in the history), then reported to the callback URL once.
   */
  async agentSend(
    from: string,
    to: string,
    msgBody: ReceivedMessage['body'],
    opts: { cloudCustomData?: string; optPlatform?: string; clientIp?: string } = {},
  ): Promise<AgentSendResult> {
    const { answer, stored } = this.sendmsg({
      From_Account: from,
      To_Account: to,
      MsgSeq: ++this.agentMsgSeq,
      MsgRandom: randomInt(0, 2 ** 32),
      MsgBody: msgBody,
      ...(opts.cloudCustomData === undefined ? {} : { CloudCustomData: opts.cloudCustomData }),
    });
    if (stored === undefined) throw new Error(`IM refused the agent's message: ${answer.ErrorCode} ${answer.ErrorInfo}`);
    const callback = await this.afterSend(stored, opts.optPlatform ?? 'Web', opts.clientIp ?? '127.0.0.1');
    return { msgKey: stored.msgKey, msgTime: Math.floor(stored.receivedAt / 1000), delivered: callback?.delivered ?? false };
  }

  /**
   * The agent types (or stops) in TUIKit: an online-only custom message (`user_typing_status`),
   * never stored nor in the history, reported to the after-send callback with OnlineOnlyFlag 1.
   */
  async agentTyping(from: string, to: string, typing: boolean): Promise<AgentSendResult> {
    if (!this.accounts.has(from) || !this.accounts.has(to)) throw new Error('From_Account and To_Account must be imported accounts');
    const now = Date.now();
    const m: ReceivedMessage = {
      from,
      to,
      msgSeq: ++this.agentMsgSeq,
      msgRandom: randomInt(0, 2 ** 32),
      body: [{ MsgType: 'TIMCustomElem', MsgContent: { Data: typingData(typing), Desc: '', Ext: '', Sound: '' } }],
      receivedAt: now,
      msgKey: `${this.agentMsgSeq}_${randomInt(0, 2 ** 32)}_${(++this.msgKeySerial).toString(16)}`,
    };
    const callback = await this.callbackSender.send(AFTER_SEND_MSG, afterSendMsgPayload(m, this.unread.get(to) ?? 0, now, true), {
      optPlatform: 'Web',
      clientIp: '127.0.0.1',
    });
    return { msgKey: m.msgKey, msgTime: Math.floor(now / 1000), delivered: callback?.delivered ?? false };
  }

  /**
   * The agent recalls one of their messages (within IM's 2 minutes by default): flagged recalled in
   * the history, and C2C.CallbackAfterMsgWithDraw sent. Resolves to whether the callback was answered OK.
   */
  async agentRecall(from: string, to: string, msgKey: string): Promise<boolean> {
    const m = this.messages.find((x) => x.from === from && x.to === to && x.msgKey === msgKey);
    if (m === undefined) throw new Error('no such message from From_Account to To_Account');
    m.recalled = true;
    const record = await this.callbackSender.send(AFTER_MSG_WITHDRAW, msgWithdrawPayload(m, Date.now()), { optPlatform: 'Web', clientIp: '127.0.0.1' });
    return record?.delivered ?? false;
  }

  /**
   * The agent's client on `device` connects: State.StateChange Login (Register); `eventTime` as
   * for agentLogout. Resolves to whether the callback was answered OK. IM calls back for each
   * connection, so an agent on two devices (a PC and a phone) logs in, and out, twice.
   */
  async agentLogin(agent: string, eventTime?: number, device = 'Web'): Promise<boolean> {
    this.devicesOf(agent).add(device);
    return this.stateChange(agent, 'Login', 'Register', eventTime);
  }

  private devicesOf(agent: string): Set<string> {
    let devices = this.onlineDevices.get(agent);
    if (devices === undefined) this.onlineDevices.set(agent, (devices = new Set()));
    return devices;
  }

  /** `account` deletes its conversation with `peer` in its client (and its messages on IM's server, for its side only). */
  deleteConversation(account: string, peer: string): void {
    this.deletedBySide.set(`${account}\n${peer}`, Date.now());
  }

  /** Whether `m` still shows to `account`, in its conversation with `peer`. */
  private shownTo(account: string, peer: string, m: ReceivedMessage): boolean {
    return m.receivedAt > (this.deletedBySide.get(`${account}\n${peer}`) ?? -Infinity);
  }

  /** The agent logs out on `device`: State.StateChange Logout (Unregister). */
  async agentLogout(agent: string, eventTime?: number, device = 'Web'): Promise<boolean> {
    this.devicesOf(agent).delete(device);
    return this.stateChange(agent, 'Logout', 'Unregister', eventTime);
  }

  /** The agent's connection on `device` drops: State.StateChange Disconnect (LinkClose, or TimeOut after 400 s without a heartbeat). */
  async agentDisconnect(agent: string, reason: 'LinkClose' | 'TimeOut' = 'LinkClose', device = 'Web'): Promise<boolean> {
    this.devicesOf(agent).delete(device);
    return this.stateChange(agent, 'Disconnect', reason);
  }

  /**
   * openim/query_online_status: each account's state over its devices (`Online` while any is
   * connected), with each device's when IsNeedDetail is 1; accounts not imported in ErrorList
   * (70107). At most 500 accounts a call.
   */
  private onlineStatus(body: Record<string, unknown>): object {
    const accounts = body['To_Account'];
    if (!Array.isArray(accounts) || accounts.length === 0 || accounts.length > 500 || !accounts.every((a) => typeof a === 'string'))
      return imError(90001, 'To_Account needs 1 to 500 UserIDs');
    const detail = body['IsNeedDetail'] === 1;
    const known = accounts.filter((a) => this.accounts.has(a));
    return {
      ...OK,
      QueryResult: known.map((a) => {
        const devices = [...(this.onlineDevices.get(a) ?? [])];
        return {
          To_Account: a,
          Status: devices.length > 0 ? 'Online' : 'Offline',
          ...(detail ? { Detail: devices.map((Platform) => ({ Platform, Status: 'Online' })) } : {}),
        };
      }),
      ErrorList: accounts.filter((a) => !this.accounts.has(a)).map((a) => ({ To_Account: a, ErrorCode: 70107 })),
    };
  }

  /** `eventTime`: when IM saw it (ms), now by default; an earlier one stands for a callback IM delivers late. */
  private async stateChange(agent: string, action: string, reason: string, eventTime = Date.now()): Promise<boolean> {
    if (!this.accounts.has(agent)) throw new Error(`${agent} is not an imported account`);
    const record = await this.callbackSender.send(STATE_CHANGE, stateChangePayload(agent, action, reason, eventTime), {
      optPlatform: 'Web',
      clientIp: '127.0.0.1',
    });
    return record?.delivered ?? false;
  }

  private afterSend(m: ReceivedMessage, optPlatform: string, clientIp: string): Promise<CallbackRecord | undefined> {
    const payload = afterSendMsgPayload(m, this.unread.get(m.to) ?? 0, Date.now());
    return this.callbackSender.send(AFTER_SEND_MSG, payload, { optPlatform, clientIp });
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return listenAt(this.app, port, host);
  }

  async close(): Promise<void> {
    await this.app.close();
    await this.callbackSender.settled();
  }

  private routes(): void {
    this.app.post<{ Params: { service: string; command: string }; Querystring: Record<string, string> }>('/v4/:service/:command', async (req, reply) => {
      this.stats.calls++;
      const command = `${req.params.service}/${req.params.command}`;
      const auth = this.authenticate(req.query);
      if (auth !== undefined) return this.fail(reply, auth.code, auth.info);
      if (!this.limiter.admit(command, this.limitOf(command), Date.now())) {
        this.stats.rateLimited++;
        return this.fail(reply, 60007, 'request frequency over the limit');
      }
      const met = this.plan.next(command);
      if (met !== undefined && 'code' in met) {
        if (met.ms !== undefined) await sleep(met.ms);
        return this.fail(reply, met.code, met.info);
      }
      const fault = met?.kind;
      if (fault === 'http500') return reply.code(500).send('Internal Server Error');
      if (fault === 'busy') return this.fail(reply, 90994, 'server busy, try again later');
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (this.options.latencyMs) await new Promise((r) => setTimeout(r, this.options.latencyMs));
      const answer = this.handle(command, body, req.ip);
      if (fault === 'lost') {
        // Done, but the answer never arrives: the client must retry and IM must absorb it.
        req.raw.socket.destroy();
        return reply.hijack();
      }
      if (fault === 'slow') await new Promise((r) => setTimeout(r, met!.ms));
      return reply.send(answer);
    });
    this.app.get('/sim/messages', async () => this.messages);
    // Compact: [from, receivedAt, the relayed push's MsgId from CloudCustomData] per message, for benchmarks.
    this.app.get('/sim/receipts', async () => this.messages.map((m) => [m.from, m.receivedAt, relayedMsgId(m.cloudCustomData)]));
    this.app.get('/sim/accounts', async () => ({ imported: [...this.accounts.keys()], deleted: [...this.deleted.keys()] }));
    this.app.get('/sim/stats', async () => this.stats);
    this.app.get('/sim/pace', async () => this.callsPerSecond());
    this.app.put<{ Body: Faults }>('/sim/faults', async (req) => {
      this.faults = req.body;
      return this.faults;
    });
    agentRoutes(this.app, this);
    this.app.get('/healthz', async () => ({ status: 'ok' }));
  }

  /** Calls let through per second (epoch seconds), per command: what IM's limit saw. */
  callsPerSecond(): Record<string, [number, number][]> {
    return this.limiter.perSecond();
  }

  /** IM's limit for the command: the one for IM's usual 200/s, scaled as the relay scales its own pace. */
  private limitOf(command: string): number | undefined {
    return this.rateLimit === false ? undefined : paceFor(command, this.rateLimit);
  }

  private authenticate(q: Record<string, string>): { code: number; info: string } | undefined {
    if (q['sdkappid'] !== String(this.options.sdkAppId)) return { code: 70020, info: 'sdkappid not found' };
    if (!/^\d+$/.test(q['random'] ?? '') || Number(q['random']) > 0xffffffff) return { code: 90001, info: 'random is missing or not a uint32' };
    const sig = q['usersig'] ?? '';
    let doc = this.verifiedSigs.get(sig);
    if (doc === undefined) {
      doc = verifyUserSig(sig, this.options.secretKey);
      if (doc !== undefined && this.verifiedSigs.size < 1000) this.verifiedSigs.set(sig, doc);
    }
    if (doc === undefined) return { code: 70003, info: 'usersig is invalid' };
    if (doc.identifier !== q['identifier'] || doc.sdkAppId !== this.options.sdkAppId)
      return { code: 70013, info: 'usersig does not match identifier or sdkappid' };
    if (doc.identifier !== this.admin) return { code: 70009, info: 'identifier is not an app admin' };
    if (doc.time + doc.expire < Date.now() / 1000) return { code: 70001, info: 'usersig expired' };
    return undefined;
  }

  private fail(reply: FastifyReply, code: number, info: string) {
    return reply.send({ ActionStatus: 'FAIL', ErrorCode: code, ErrorInfo: info });
  }

  private handle(command: string, body: Record<string, unknown>, clientIp: string): object {
    switch (command) {
      case 'im_open_login_svc/account_import': {
        const id = body['UserID'];
        if (typeof id !== 'string' || !/^[A-Za-z0-9_@.-]{1,32}$/.test(id)) return imError(70402, 'invalid UserID');
        if (this.options.refuseReimport && this.deleted.has(id)) return imError(70399, 'UserID was deleted and cannot be imported again for 3 months');
        this.accounts.set(id, { ...(typeof body['Nick'] === 'string' ? { nick: body['Nick'] } : {}) });
        return OK;
      }
      case 'im_open_login_svc/account_delete': {
        const items = (body['DeleteItem'] as { UserID: string }[] | undefined) ?? [];
        if (items.length === 0 || items.length > 100) return imError(90001, 'DeleteItem needs 1 to 100 items');
        for (const { UserID } of items) {
          if (this.accounts.delete(UserID)) this.deleted.set(UserID, Date.now());
        }
        return { ...OK, ResultItem: items.map(({ UserID }) => ({ ResultCode: 0, ResultInfo: '', UserID })) };
      }
      case 'im_open_login_svc/account_check': {
        const items = (body['CheckItem'] as { UserID: string }[] | undefined) ?? [];
        return {
          ...OK,
          ResultItem: items.map(({ UserID }) => ({
            UserID,
            ResultCode: 0,
            ResultInfo: '',
            AccountStatus: this.accounts.has(UserID) ? 'Imported' : 'NotImported',
          })),
        };
      }
      case 'openim/sendmsg': {
        const { answer, stored } = this.sendmsg(body);
        // IM calls back for the admin's sends too, unless the call forbids it.
        if (stored !== undefined && !stored.forbidCallbackControl?.includes('ForbidAfterSendMsgCallback')) void this.afterSend(stored, 'RESTAPI', clientIp);
        return answer;
      }
      case 'openim/admin_getroammsg':
        return this.roamMessages(body);
      case 'openim/modify_c2c_msg':
        return this.modifyC2C(body);
      case 'recentcontact/get_list':
        return this.conversationList(body);
      case 'openim/query_online_status':
        return this.onlineStatus(body);
      default:
        return imError(90001, `unknown command ${command}`);
    }
  }

  /** `stored` is the message when it is new (not refused, not a dropped repeat). */
  private sendmsg(body: Record<string, unknown>): { answer: ImAnswer; stored?: ReceivedMessage } {
    const err = (code: number, info: string) => ({ answer: imError(code, info) });
    const from = typeof body['From_Account'] === 'string' ? body['From_Account'] : this.admin;
    const to = body['To_Account'];
    const msgSeq = body['MsgSeq'];
    const msgRandom = body['MsgRandom'];
    const msgBody = body['MsgBody'];
    if (typeof to !== 'string') return err(90001, 'To_Account missing');
    if (!Number.isInteger(msgSeq) || !Number.isInteger(msgRandom) || (msgRandom as number) < 0 || (msgRandom as number) > 0xffffffff)
      return err(90001, 'MsgSeq/MsgRandom must be uint32');
    if (!Array.isArray(msgBody) || msgBody.length === 0) return err(90001, 'MsgBody is empty');
    for (const e of msgBody as { MsgType?: unknown; MsgContent?: unknown }[]) {
      if (typeof e.MsgType !== 'string' || typeof e.MsgContent !== 'object' || e.MsgContent === null) return err(90001, 'malformed MsgBody element');
      if (e.MsgType === 'TIMTextElem' && typeof (e.MsgContent as { Text?: unknown }).Text !== 'string') return err(90001, 'TIMTextElem needs Text');
    }
    const seq = msgSeq as number;
    const rnd = msgRandom as number;
    const content = JSON.stringify(msgBody);
    if (Buffer.byteLength(content) > MAX_BODY_BYTES) return err(93000, 'message body too long');
    const refused = this.sendRefused.get(from) ?? this.sendRefused.get(to);
    if (refused !== undefined) return err(refused, 'scripted failure of this conversation');
    if (!this.accounts.has(from)) return err(20003, 'From_Account is not imported');
    if (!this.accounts.has(to)) return err(90012, 'To_Account does not exist');
    const now = Date.now();
    const key = `${from}|${seq}|${rnd}|${crc32(content)}`;
    const seen = this.recent.get(key);
    if (seen !== undefined && now - seen.at < this.dedupeWindowMs) {
      this.stats.duplicatesDropped++;
      return { answer: { ...OK, MsgTime: Math.floor(seen.at / 1000), MsgKey: seen.msgKey } };
    }
    const msgKey = `${seq}_${rnd}_${(++this.msgKeySerial).toString(16)}`;
    this.recent.delete(key); // a key seen outside the window goes to the end: the map stays in time order
    this.recent.set(key, { at: now, msgKey });
    this.pruneRecent(now);
    const message: ReceivedMessage = {
      from,
      to,
      msgSeq: seq,
      msgRandom: rnd,
      body: msgBody as ReceivedMessage['body'],
      ...(typeof body['CloudCustomData'] === 'string' ? { cloudCustomData: body['CloudCustomData'] } : {}),
      ...(Array.isArray(body['ForbidCallbackControl']) ? { forbidCallbackControl: body['ForbidCallbackControl'] as string[] } : {}),
      receivedAt: now,
      msgKey,
    };
    this.messages.push(message);
    this.stats.messages++;
    this.unread.set(to, (this.unread.get(to) ?? 0) + 1);
    for (const l of this.listeners) l(message);
    return { answer: { ...OK, MsgTime: Math.floor(now / 1000), MsgKey: msgKey }, stored: message };
  }

  /**
   * modify_c2c_msg: overwrites the MsgBody and/or CloudCustomData of the stored message with this
   * sender, recipient and MsgKey, as admin_getroammsg then shows it. IM calls no callback for an
   * edit. IM's page names no code of its own for a message it does not hold: 20001 (invalid request).
   */
  private modifyC2C(body: Record<string, unknown>): ImAnswer {
    const { From_Account: from, To_Account: to, MsgKey: msgKey, MsgBody: msgBody, CloudCustomData: data } = body;
    if (typeof from !== 'string' || typeof to !== 'string' || typeof msgKey !== 'string' || msgKey === '')
      return imError(90001, 'From_Account, To_Account and MsgKey are required');
    if (msgBody === undefined && data === undefined) return imError(90001, 'neither MsgBody nor CloudCustomData to modify');
    if (data !== undefined && typeof data !== 'string') return imError(90001, 'CloudCustomData is not a string');
    if (msgBody !== undefined && (!Array.isArray(msgBody) || msgBody.length === 0)) return imError(90001, 'MsgBody is empty');
    if (!this.accounts.has(from) || !this.accounts.has(to)) return imError(20003, 'From_Account or To_Account is not imported');
    const message = this.messages.find((m) => m.msgKey === msgKey && m.from === from && m.to === to);
    if (message === undefined) return imError(20001, 'no such message');
    if (msgBody !== undefined) {
      if (Buffer.byteLength(JSON.stringify(msgBody)) > MAX_BODY_BYTES) return imError(93000, 'message body too long');
      message.body = msgBody as ReceivedMessage['body'];
    }
    if (typeof data === 'string') message.cloudCustomData = data;
    this.stats.modified++;
    this.modifications.push({ msgKey, ...(typeof data === 'string' ? { cloudCustomData: data } : {}), at: Date.now() });
    return OK;
  }

  /** History between two accounts, newest first, in pages of MaxCnt, as admin_getroammsg does. */
  private roamMessages(body: Record<string, unknown>): object {
    const a = String(body['Operator_Account']);
    const b = String(body['Peer_Account']);
    const min = Number(body['MinTime']);
    const max = Number(body['MaxTime']);
    const refused = this.historyRefused.get(a) ?? this.historyRefused.get(b) ?? this.historyRefusedIf?.({ operator: a, peer: b, minTime: min, maxTime: max });
    if (refused !== undefined) return imError(refused, 'scripted failure of this conversation');
    const maxCnt = Math.min(Number(body['MaxCnt']) || 100, 100);
    const shownUpTo = Date.now() - this.historyLagMs;
    let list = this.messages
      .filter(
        (m) =>
          ((m.from === a && m.to === b) || (m.from === b && m.to === a)) &&
          Math.floor(m.receivedAt / 1000) >= min &&
          Math.floor(m.receivedAt / 1000) <= max &&
          m.receivedAt <= shownUpTo &&
          this.shownTo(a, b, m),
      )
      .sort(historyOrder)
      .reverse();
    const after = body['LastMsgKey'];
    if (typeof after === 'string') list = list.slice(list.findIndex((m) => m.msgKey === after) + 1);
    const page = list.slice(0, maxCnt);
    const last = page.at(-1);
    return {
      ...OK,
      Complete: list.length <= maxCnt ? 1 : 0,
      MsgCnt: page.length,
      LastMsgTime: last ? Math.floor(last.receivedAt / 1000) : 0,
      LastMsgKey: last?.msgKey ?? '',
      MsgList: page.map((m) => ({
        From_Account: m.from,
        To_Account: m.to,
        MsgSeq: m.msgSeq,
        MsgRandom: m.msgRandom,
        MsgTimeStamp: Math.floor(m.receivedAt / 1000),
        MsgKey: m.msgKey,
        MsgBody: m.body,
        ...(m.cloudCustomData === undefined ? {} : { CloudCustomData: m.cloudCustomData }),
        MsgFlagBits: m.recalled ? RECALLED_FLAG : 0,
      })),
    };
  }

  /**
   * An account's one-to-one conversations, latest message first, as recentcontact/get_list pages
   * them (50 a page, by StartIndex), kept to the latest `conversationListCap`.
   */
  private conversationList(body: Record<string, unknown>): object {
    const account = String(body['From_Account']);
    const latest = new Map<string, number>();
    for (const m of this.messages) {
      const peer = m.from === account ? m.to : m.to === account ? m.from : undefined;
      if (peer !== undefined && this.shownTo(account, peer, m)) latest.set(peer, Math.max(latest.get(peer) ?? 0, m.receivedAt));
    }
    const sessions = [...latest].sort((a, b) => b[1] - a[1]).slice(0, this.options.conversationListCap ?? 100);
    const start = Math.max(0, Number(body['StartIndex']) || 0);
    const page = sessions.slice(start, start + 50);
    return {
      ...OK,
      SessionItem: page.map(([peer, at]) => ({ Type: 1, To_Account: peer, MsgTime: Math.floor(at / 1000), TopFlag: 0 })),
      CompleteFlag: start + page.length >= sessions.length ? 1 : 0,
      TimeStamp: Math.floor(Date.now() / 1000),
      StartIndex: start + page.length,
      TopTimeStamp: 0,
      TopStartIndex: 0,
    };
  }

  private pruneRecent(now: number): void {
    // Oldest first: stop at the first entry still inside the window (amortised O(1) per send).
    for (const [k, v] of this.recent) {
      if (now - v.at < this.dedupeWindowMs) return;
      this.recent.delete(k);
    }
  }
}

/** IM's order of a one-to-one history: by time in seconds, then by MsgSeq within a second. */
function historyOrder(a: ReceivedMessage, b: ReceivedMessage): number {
  return Math.floor(a.receivedAt / 1000) - Math.floor(b.receivedAt / 1000) || a.msgSeq - b.msgSeq;
}

/** The MsgId of the push a message relays, when the relay marked it so; null for anything else. */
function relayedMsgId(cloudCustomData: string | undefined): string | null {
  const data = decodeRelayCustomData(cloudCustomData);
  return data?.source === 'wechat' ? (data.msgId ?? null) : null;
}
