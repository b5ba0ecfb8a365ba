import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Tencent IM's third-party callbacks as the relay receives them (docs/tencent-im.md, "Callbacks"):
 * the query IM appends to the callback URL, its signature, and the bodies of the two commands the
 * relay handles. Pure: no I/O.
 */

export const AFTER_SEND_MSG = 'C2C.CallbackAfterSendMsg';
export const STATE_CHANGE = 'State.StateChange';
export const AFTER_MSG_WITHDRAW = 'C2C.CallbackAfterMsgWithDraw';

/** The answer IM waits for; after-event callbacks ignore it, but IM still expects one. */
export interface CallbackAnswer {
  ActionStatus: 'OK' | 'FAIL';
  ErrorCode: number;
  ErrorInfo: string;
}

export const CALLBACK_OK: Readonly<CallbackAnswer> = Object.freeze({ ActionStatus: 'OK', ErrorCode: 0, ErrorInfo: '' });

/** An IM-style refusal; IM documents ErrorCode 1 as "the callback failed". */
export function callbackError(code: number, info: string): CallbackAnswer {
  return { ActionStatus: 'FAIL', ErrorCode: code, ErrorInfo: info };
}

/** `Sign` of an authenticated callback: hex(sha256(token + RequestTime)), no separator. */
export function callbackSign(token: string, requestTime: string | number): string {
  return createHash('sha256').update(`${token}${requestTime}`).digest('hex');
}

export interface CallbackQueryOptions {
  sdkAppId: number | string;
  /** The callback authentication token; without it RequestTime and Sign are not checked. */
  token?: string;
  nowMs: number;
  /** How far RequestTime may be from now. IM's console page says a minute (replays). */
  maxSkewSeconds?: number;
}

export type CallbackRefusalCode = 'wrong-sdkappid' | 'missing-request-time' | 'stale-request-time' | 'bad-sign' | 'missing-command';

export type CallbackQueryCheck =
  | { ok: true; command: string; requestTime?: number; optPlatform?: string; clientIp?: string }
  | { ok: false; status: 400 | 401 | 403; errorCode: CallbackRefusalCode; reason: string };

/** A query value as a single string: a repeated parameter (an array) counts as absent. */
function param(query: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = query[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Checks the query of a callback request: our SdkAppid, and with a token a fresh RequestTime and
 * its Sign. The app id and signature are checked before anything else is read from the request.
 */
export function verifyCallbackQuery(query: Readonly<Record<string, unknown>>, options: CallbackQueryOptions): CallbackQueryCheck {
  const refuse = (status: 400 | 401 | 403, errorCode: CallbackRefusalCode, reason: string): CallbackQueryCheck => ({ ok: false, status, errorCode, reason });
  if (param(query, 'SdkAppid') !== String(options.sdkAppId)) return refuse(403, 'wrong-sdkappid', 'SdkAppid is not this app');
  const requestTimeText = param(query, 'RequestTime');
  const requestTime = requestTimeText !== undefined && /^\d{1,12}$/.test(requestTimeText) ? Number(requestTimeText) : undefined;
  if (options.token !== undefined) {
    if (requestTime === undefined) return refuse(401, 'missing-request-time', 'RequestTime is missing or not a number of seconds');
    if (Math.abs(options.nowMs / 1000 - requestTime) > (options.maxSkewSeconds ?? 60))
      return refuse(401, 'stale-request-time', 'RequestTime is too far from now');
    const expected = Buffer.from(callbackSign(options.token, requestTimeText!), 'utf8');
    const given = Buffer.from((param(query, 'Sign') ?? '').toLowerCase(), 'utf8');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return refuse(401, 'bad-sign', 'Sign does not match');
  }
  const command = param(query, 'CallbackCommand');
  if (command === undefined || command === '') return refuse(400, 'missing-command', 'CallbackCommand is missing');
  const optPlatform = param(query, 'OptPlatform');
  const clientIp = param(query, 'ClientIP');
  return {
    ok: true,
    command,
    ...(requestTime === undefined ? {} : { requestTime }),
    ...(optPlatform === undefined ? {} : { optPlatform }),
    ...(clientIp === undefined ? {} : { clientIp }),
  };
}

/**
 * IM calls back within seconds of a message: an after-send callback whose MsgTime is further than
 * this from now (RequestTime is within a minute of it) does not describe a message just sent.
 */
export const MAX_MSG_TIME_SKEW_MS = 5 * 60 * 1000;

/** A callback body that is not what IM documents for its command. */
export class CallbackBodyError extends Error {
  override readonly name = 'CallbackBodyError';
}

export interface CallbackMsgElement {
  MsgType: string;
  MsgContent: Record<string, unknown>;
}

/** C2C.CallbackAfterSendMsg: a one-to-one message IM has delivered (or failed to: sendMsgResult ≠ 0). */
export interface AfterSendMsg {
  fromAccount: string;
  toAccount: string;
  msgSeq: number;
  msgRandom: number;
  /** Seconds. */
  msgTime: number;
  msgKey: string;
  msgBody: CallbackMsgElement[];
  /** Absent when IM sent "" (none). */
  cloudCustomData?: string;
  /** 0: delivered. */
  sendMsgResult: number;
  errorInfo?: string;
  onlineOnlyFlag?: number;
  /** Milliseconds. */
  eventTime?: number;
  /** Only from IM's history: its sender recalled it (MsgFlagBits). */
  recalled?: true;
}

/** State.StateChange: an account's client logged in, logged out or lost its connection. */
export interface StateChange {
  account: string;
  /** Login (Register), Logout (Unregister), Disconnect (LinkClose, TimeOut); IM may add others. */
  action: 'Login' | 'Logout' | 'Disconnect' | (string & {});
  reason?: string;
  /** Milliseconds. */
  eventTime?: number;
}

type Fields = Record<string, unknown>;

function objectOf(value: unknown, what: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CallbackBodyError(`${what} is not a JSON object`);
  return value as Fields;
}

function commandIs(body: Fields, command: string): void {
  const given = body['CallbackCommand'];
  if (given !== undefined && given !== command) throw new CallbackBodyError(`CallbackCommand is ${JSON.stringify(given)}, not ${command}`);
}

function text(body: Fields, name: string): string {
  const value = body[name];
  if (value === undefined) throw new CallbackBodyError(`${name} is missing`);
  if (typeof value !== 'string') throw new CallbackBodyError(`${name} is not a string`);
  if (value === '') throw new CallbackBodyError(`${name} is empty`);
  return value;
}

function optionalText(body: Fields, name: string): string | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new CallbackBodyError(`${name} is not a string`);
  return value;
}

function integer(body: Fields, name: string, max = Number.MAX_SAFE_INTEGER): number {
  const value = body[name];
  if (value === undefined) throw new CallbackBodyError(`${name} is missing`);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max)
    throw new CallbackBodyError(max === 0xffffffff ? `${name} is not a uint32` : `${name} is not a non-negative integer`);
  return value;
}

function optionalInteger(body: Fields, name: string): number | undefined {
  return body[name] === undefined ? undefined : integer(body, name);
}

function msgBody(body: Fields): CallbackMsgElement[] {
  const value = body['MsgBody'];
  if (!Array.isArray(value)) throw new CallbackBodyError('MsgBody is not an array');
  return value.map((element: unknown, i) => {
    const e = objectOf(element, `MsgBody[${i}]`);
    if (typeof e['MsgType'] !== 'string' || e['MsgType'] === '') throw new CallbackBodyError(`MsgBody[${i}].MsgType is not a string`);
    return { MsgType: e['MsgType'], MsgContent: objectOf(e['MsgContent'], `MsgBody[${i}].MsgContent`) };
  });
}

/** Validates and types the body of C2C.CallbackAfterSendMsg; throws CallbackBodyError with a plain reason. */
export function parseAfterSendMsg(body: unknown): AfterSendMsg {
  const b = objectOf(body, 'the body');
  commandIs(b, AFTER_SEND_MSG);
  const cloudCustomData = optionalText(b, 'CloudCustomData');
  const errorInfo = optionalText(b, 'ErrorInfo');
  const onlineOnlyFlag = optionalInteger(b, 'OnlineOnlyFlag');
  const eventTime = optionalInteger(b, 'EventTime');
  return {
    fromAccount: text(b, 'From_Account'),
    toAccount: text(b, 'To_Account'),
    msgSeq: integer(b, 'MsgSeq', 0xffffffff),
    msgRandom: integer(b, 'MsgRandom', 0xffffffff),
    msgTime: integer(b, 'MsgTime'),
    msgKey: text(b, 'MsgKey'),
    msgBody: msgBody(b),
    ...(cloudCustomData ? { cloudCustomData } : {}),
    sendMsgResult: integer(b, 'SendMsgResult'),
    ...(errorInfo === undefined ? {} : { errorInfo }),
    ...(onlineOnlyFlag === undefined ? {} : { onlineOnlyFlag }),
    ...(eventTime === undefined ? {} : { eventTime }),
  };
}

/** C2C.CallbackAfterMsgWithDraw: a one-to-one message was recalled (by its sender's client, or admin_msgwithdraw). */
export interface MsgWithdraw {
  fromAccount: string;
  toAccount: string;
  msgKey: string;
  /** Milliseconds; IM's documentation shows it on newer callbacks only. */
  eventTime?: number;
}

/** Validates and types the body of C2C.CallbackAfterMsgWithDraw; throws CallbackBodyError with a plain reason. */
export function parseMsgWithdraw(body: unknown): MsgWithdraw {
  const b = objectOf(body, 'the body');
  commandIs(b, AFTER_MSG_WITHDRAW);
  const eventTime = optionalInteger(b, 'EventTime');
  // UnreadMsgNum (older pages of the documentation) is the recipient's unread count: not needed.
  return {
    fromAccount: text(b, 'From_Account'),
    toAccount: text(b, 'To_Account'),
    msgKey: text(b, 'MsgKey'),
    ...(eventTime === undefined ? {} : { eventTime }),
  };
}

/** Validates and types the body of State.StateChange; throws CallbackBodyError with a plain reason. */
export function parseStateChange(body: unknown): StateChange {
  const b = objectOf(body, 'the body');
  commandIs(b, STATE_CHANGE);
  const info = objectOf(b['Info'], 'Info');
  const reason = optionalText(info, 'Reason');
  const eventTime = optionalInteger(b, 'EventTime');
  return {
    account: text(info, 'To_Account'),
    action: text(info, 'Action'),
    ...(reason ? { reason } : {}),
    ...(eventTime === undefined ? {} : { eventTime }),
  };
}
