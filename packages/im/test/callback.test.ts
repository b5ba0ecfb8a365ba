import type { RoamMessage } from '@wxim/im';
import {
  CALLBACK_OK,
  CallbackBodyError,
  callbackError,
  callbackSign,
  parseAfterSendMsg,
  parseStateChange,
  verifyCallbackQuery,
  type CallbackQueryCheck,
} from '@wxim/im';
import t from 'tap';

const SDK_APP_ID = 1400000001;
const TOKEN = 'xxxxyyyy';
const NOW_MS = 1669872112_000;

function signedQuery(requestTime: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    SdkAppid: String(SDK_APP_ID),
    CallbackCommand: 'C2C.CallbackAfterSendMsg',
    contenttype: 'json',
    ClientIP: '203.0.113.7',
    OptPlatform: 'Web',
    RequestTime: String(requestTime),
    Sign: callbackSign(TOKEN, requestTime),
    ...overrides,
  };
}

function refusal(check: CallbackQueryCheck): { status: number; errorCode: string } | undefined {
  return check.ok ? undefined : { status: check.status, errorCode: check.errorCode };
}

t.test("the callback signature is IM's documented example", async (t) => {
  // Token xxxxyyyy, RequestTime 1669872112 (callback configuration page of the IM console docs).
  t.equal(callbackSign('xxxxyyyy', '1669872112'), '17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061');
  t.equal(callbackSign('xxxxyyyy', 1669872112), '17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061');
});

t.test('a signed query from our app is accepted with what it carries', async (t) => {
  const check = verifyCallbackQuery(signedQuery(1669872112), { sdkAppId: SDK_APP_ID, token: TOKEN, nowMs: NOW_MS });
  t.same(check, { ok: true, command: 'C2C.CallbackAfterSendMsg', requestTime: 1669872112, optPlatform: 'Web', clientIp: '203.0.113.7' });
  t.same(
    verifyCallbackQuery(
      { ...signedQuery(1669872112), Sign: callbackSign(TOKEN, 1669872112).toUpperCase() },
      { sdkAppId: SDK_APP_ID, token: TOKEN, nowMs: NOW_MS },
    ).ok,
    true,
    'hex in capitals too',
  );
});

t.test('another app id is refused 403, whatever else the query holds', async (t) => {
  const options = { sdkAppId: SDK_APP_ID, token: TOKEN, nowMs: NOW_MS };
  t.same(refusal(verifyCallbackQuery(signedQuery(1669872112, { SdkAppid: '1400000002' }), options)), { status: 403, errorCode: 'wrong-sdkappid' });
  t.same(refusal(verifyCallbackQuery(signedQuery(1669872112, { SdkAppid: undefined }), options)), { status: 403, errorCode: 'wrong-sdkappid' });
  t.same(refusal(verifyCallbackQuery(signedQuery(1669872112, { SdkAppid: [String(SDK_APP_ID), '1'] }), options)), { status: 403, errorCode: 'wrong-sdkappid' });
  t.same(refusal(verifyCallbackQuery({ SdkAppid: '1', CallbackCommand: 'State.StateChange' }, { sdkAppId: SDK_APP_ID, nowMs: NOW_MS })), {
    status: 403,
    errorCode: 'wrong-sdkappid',
  });
});

t.test('a RequestTime outside the allowed skew is refused 401; inside it is accepted', async (t) => {
  const options = { sdkAppId: SDK_APP_ID, token: TOKEN, nowMs: NOW_MS };
  t.equal(verifyCallbackQuery(signedQuery(1669872112 - 60), options).ok, true, 'a minute old: IM console docs allow it');
  t.same(refusal(verifyCallbackQuery(signedQuery(1669872112 - 61), options)), { status: 401, errorCode: 'stale-request-time' });
  t.same(refusal(verifyCallbackQuery(signedQuery(1669872112 + 61), options)), { status: 401, errorCode: 'stale-request-time' }, 'from the future');
  t.equal(verifyCallbackQuery(signedQuery(1669872112 - 290), { ...options, maxSkewSeconds: 300 }).ok, true, 'a wider skew when configured');
  t.same(refusal(verifyCallbackQuery(signedQuery(1669872112, { RequestTime: undefined }), options)), { status: 401, errorCode: 'missing-request-time' });
  t.same(refusal(verifyCallbackQuery(signedQuery(1669872112, { RequestTime: '1669872112.5' }), options)), { status: 401, errorCode: 'missing-request-time' });
  t.same(refusal(verifyCallbackQuery(signedQuery(1669872112, { RequestTime: 'soon' }), options)), { status: 401, errorCode: 'missing-request-time' });
});

t.test('a wrong Sign is refused 401, one of another length without throwing', async (t) => {
  const options = { sdkAppId: SDK_APP_ID, token: TOKEN, nowMs: NOW_MS };
  t.same(refusal(verifyCallbackQuery(signedQuery(1669872112, { Sign: callbackSign('other', 1669872112) }), options)), { status: 401, errorCode: 'bad-sign' });
  t.same(
    refusal(verifyCallbackQuery(signedQuery(1669872112, { Sign: callbackSign(TOKEN, 1669872111) }), options)),
    { status: 401, errorCode: 'bad-sign' },
    'signed for another time',
  );
  for (const sign of ['', 'abc', `${callbackSign(TOKEN, 1669872112)}00`, 'é'.repeat(32)]) {
    t.same(
      refusal(verifyCallbackQuery(signedQuery(1669872112, { Sign: sign }), options)),
      { status: 401, errorCode: 'bad-sign' },
      `Sign ${JSON.stringify(sign)}`,
    );
  }
  t.same(refusal(verifyCallbackQuery(signedQuery(1669872112, { Sign: undefined }), options)), { status: 401, errorCode: 'bad-sign' }, 'no Sign');
});

t.test('without a token the time and Sign are not required', async (t) => {
  const check = verifyCallbackQuery(
    { SdkAppid: String(SDK_APP_ID), CallbackCommand: 'State.StateChange', OptPlatform: 'RESTAPI' },
    { sdkAppId: SDK_APP_ID, nowMs: NOW_MS },
  );
  t.same(check, { ok: true, command: 'State.StateChange', optPlatform: 'RESTAPI' });
});

t.test('a query without CallbackCommand is refused 400, once it is authentic', async (t) => {
  const options = { sdkAppId: SDK_APP_ID, token: TOKEN, nowMs: NOW_MS };
  t.same(refusal(verifyCallbackQuery(signedQuery(1669872112, { CallbackCommand: undefined }), options)), { status: 400, errorCode: 'missing-command' });
  t.same(refusal(verifyCallbackQuery(signedQuery(1669872112, { CallbackCommand: '' }), options)), { status: 400, errorCode: 'missing-command' });
  t.same(
    refusal(verifyCallbackQuery(signedQuery(1669872112, { CallbackCommand: undefined, Sign: 'x' }), options)),
    { status: 401, errorCode: 'bad-sign' },
    'signature first',
  );
});

t.test('the answers IM expects', async (t) => {
  t.same(CALLBACK_OK, { ActionStatus: 'OK', ErrorCode: 0, ErrorInfo: '' });
  t.same(callbackError(1, 'bad body'), { ActionStatus: 'FAIL', ErrorCode: 1, ErrorInfo: 'bad body' });
});

const AFTER_SEND = {
  CallbackCommand: 'C2C.CallbackAfterSendMsg',
  From_Account: 'agent1',
  To_Account: 'o6_bmjrPTlm6_2sgVt7hMZOPfL2M',
  MsgSeq: 48374,
  MsgRandom: 2837546,
  MsgTime: 1557481126,
  MsgKey: '48374_2837546_1557481126',
  OnlineOnlyFlag: 0,
  SendMsgResult: 0,
  ErrorInfo: 'send msg succeed',
  UnreadMsgNum: 7,
  MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'red packet' } }],
  CloudCustomData: '',
  EventTime: 1670574414123,
};

t.test("an after-send callback is read into the relay's terms", async (t) => {
  t.same(parseAfterSendMsg(AFTER_SEND), {
    fromAccount: 'agent1',
    toAccount: 'o6_bmjrPTlm6_2sgVt7hMZOPfL2M',
    msgSeq: 48374,
    msgRandom: 2837546,
    msgTime: 1557481126,
    msgKey: '48374_2837546_1557481126',
    msgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'red packet' } }],
    sendMsgResult: 0,
    errorInfo: 'send msg succeed',
    onlineOnlyFlag: 0,
    eventTime: 1670574414123,
  });
  t.equal(parseAfterSendMsg({ ...AFTER_SEND, CloudCustomData: '{"a":1}' }).cloudCustomData, '{"a":1}');
  const minimal = parseAfterSendMsg({
    ...AFTER_SEND,
    CallbackCommand: undefined,
    OnlineOnlyFlag: undefined,
    ErrorInfo: undefined,
    EventTime: undefined,
    CloudCustomData: undefined,
  });
  t.same(Object.keys(minimal).sort(), ['fromAccount', 'msgBody', 'msgKey', 'msgRandom', 'msgSeq', 'msgTime', 'sendMsgResult', 'toAccount']);
});

t.test('an after-send body that is not what IM documents is refused with a plain reason', async (t) => {
  const cases: [unknown, RegExp][] = [
    [null, /body is not a JSON object/],
    [[AFTER_SEND], /body is not a JSON object/],
    ['{}', /body is not a JSON object/],
    [{ ...AFTER_SEND, CallbackCommand: 'State.StateChange' }, /CallbackCommand is "State.StateChange"/],
    [{ ...AFTER_SEND, To_Account: undefined }, /^To_Account is missing$/],
    [{ ...AFTER_SEND, To_Account: '' }, /^To_Account is empty$/],
    [{ ...AFTER_SEND, From_Account: 42 }, /^From_Account is not a string$/],
    [{ ...AFTER_SEND, MsgSeq: '48374' }, /^MsgSeq is not a uint32$/],
    [{ ...AFTER_SEND, MsgRandom: 2 ** 32 }, /^MsgRandom is not a uint32$/],
    [{ ...AFTER_SEND, MsgTime: 1.5 }, /^MsgTime is not a non-negative integer$/],
    [{ ...AFTER_SEND, MsgKey: undefined }, /^MsgKey is missing$/],
    [{ ...AFTER_SEND, SendMsgResult: undefined }, /^SendMsgResult is missing$/],
    [{ ...AFTER_SEND, CloudCustomData: {} }, /^CloudCustomData is not a string$/],
    [{ ...AFTER_SEND, EventTime: '1670574414123' }, /^EventTime is not a non-negative integer$/],
    [{ ...AFTER_SEND, MsgBody: undefined }, /^MsgBody is not an array$/],
    [{ ...AFTER_SEND, MsgBody: { MsgType: 'TIMTextElem' } }, /^MsgBody is not an array$/],
    [{ ...AFTER_SEND, MsgBody: ['hello'] }, /^MsgBody\[0\] is not a JSON object$/],
    [{ ...AFTER_SEND, MsgBody: [{ MsgContent: { Text: 'x' } }] }, /^MsgBody\[0\]\.MsgType is not a string$/],
    [{ ...AFTER_SEND, MsgBody: [AFTER_SEND.MsgBody[0], { MsgType: 'TIMTextElem', MsgContent: 'x' }] }, /^MsgBody\[1\]\.MsgContent is not a JSON object$/],
    [{ ...AFTER_SEND, MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: null }] }, /^MsgBody\[0\]\.MsgContent is not a JSON object$/],
  ];
  for (const [body, reason] of cases) t.throws(() => parseAfterSendMsg(body), { name: 'CallbackBodyError', message: reason }, String(reason));
  t.type(
    catchError(() => parseAfterSendMsg({})),
    CallbackBodyError,
  );
});

t.test('a state change is read into account, action and reason', async (t) => {
  const body = { CallbackCommand: 'State.StateChange', EventTime: 1629883332497, Info: { Action: 'Login', To_Account: 'agent1', Reason: 'Register' } };
  t.same(parseStateChange(body), { account: 'agent1', action: 'Login', reason: 'Register', eventTime: 1629883332497 });
  t.same(parseStateChange({ Info: { Action: 'Disconnect', To_Account: 'agent1', Reason: 'TimeOut' }, KickedDevice: [] }), {
    account: 'agent1',
    action: 'Disconnect',
    reason: 'TimeOut',
  });
  t.equal(parseStateChange({ Info: { Action: 'CustomStatusChange', To_Account: 'agent1' } }).action, 'CustomStatusChange', 'an action IM adds later is kept');
  t.throws(() => parseStateChange({ ...body, Info: undefined }), { name: 'CallbackBodyError', message: /^Info is not a JSON object$/ });
  t.throws(() => parseStateChange({ ...body, Info: { Action: 'Login' } }), { message: /^To_Account is missing$/ });
  t.throws(() => parseStateChange({ ...body, Info: { To_Account: 'agent1', Action: 1 } }), { message: /^Action is not a string$/ });
  t.throws(() => parseStateChange({ ...body, CallbackCommand: 'C2C.CallbackAfterSendMsg' }), { message: /not State\.StateChange/ });
});

function catchError(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  return undefined;
}

t.test('C2C.CallbackAfterMsgWithDraw: the recalled message, its sender and recipient', async (t) => {
  const { parseMsgWithdraw } = await import('@wxim/im');
  t.same(
    parseMsgWithdraw({
      CallbackCommand: 'C2C.CallbackAfterMsgWithDraw',
      From_Account: 'jared',
      To_Account: 'Jonh',
      MsgKey: '48374_2837546_1557481126',
      EventTime: 1670574414123,
    }),
    {
      fromAccount: 'jared',
      toAccount: 'Jonh',
      msgKey: '48374_2837546_1557481126',
      eventTime: 1670574414123,
    },
  );
  t.same(
    parseMsgWithdraw({ From_Account: 'jared', To_Account: 'Jonh', MsgKey: 'k', UnreadMsgNum: 7 }),
    { fromAccount: 'jared', toAccount: 'Jonh', msgKey: 'k' },
    'the older body, UnreadMsgNum and no EventTime',
  );
  t.throws(() => parseMsgWithdraw({ From_Account: 'jared', To_Account: 'Jonh' }), /MsgKey is missing/);
  t.throws(() => parseMsgWithdraw({ From_Account: 'jared', To_Account: 'Jonh', MsgKey: 1 }), /MsgKey is not a string/);
  t.throws(
    () => parseMsgWithdraw({ CallbackCommand: 'C2C.CallbackAfterSendMsg', From_Account: 'a', To_Account: 'b', MsgKey: 'k' }),
    /not C2C.CallbackAfterMsgWithDraw/,
  );
  t.throws(() => parseMsgWithdraw([]), /not a JSON object/);
});

t.test("TUIKit's typing message is told from other custom messages", async (t) => {
  const { typingOf, typingData } = await import('@wxim/im');
  const custom = (Data: unknown) => [{ MsgType: 'TIMCustomElem', MsgContent: { Data, Desc: '', Ext: '', Sound: '' } }];
  t.equal(typingOf(custom(typingData(true))), true);
  t.equal(typingOf(custom(typingData(false))), false);
  t.equal(
    typingOf(custom('{"businessID":"user_typing_status","typingStatus":1,"version":1,"userAction":14,"actionParam":"EIMAMSG_InputStatus_Ing"}')),
    true,
    'as TUIKit sends it',
  );
  t.equal(typingOf(custom('{"userAction":14,"actionParam":"EIMAMSG_InputStatus_End"}')), false, 'older clients: actionParam only');
  t.equal(typingOf(custom('{"businessID":"order"}')), undefined, 'another custom message');
  t.equal(typingOf(custom('not json')), undefined);
  t.equal(typingOf(custom(42)), undefined);
  t.equal(typingOf([{ MsgType: 'TIMTextElem', MsgContent: { Text: 'hi' } }]), undefined);
  t.equal(typingOf([...custom(typingData(true)), { MsgType: 'TIMTextElem', MsgContent: { Text: 'hi' } }]), undefined, 'only a lone element');
});

t.test("a message IM's history shows recalled (MsgFlagBits 8) says so", async (t) => {
  const { afterSendFromHistory, isRecalled } = await import('@wxim/im');
  const m: RoamMessage = { From_Account: 'a', To_Account: 'b', MsgSeq: 1, MsgRandom: 2, MsgTimeStamp: 3, MsgKey: 'k', MsgBody: [] };
  t.notOk(isRecalled(m));
  t.notOk(isRecalled({ ...m, MsgFlagBits: 0 }));
  t.ok(isRecalled({ ...m, MsgFlagBits: 8 }));
  t.equal(afterSendFromHistory({ ...m, MsgFlagBits: 8 }).recalled, true);
  t.equal(afterSendFromHistory(m).recalled, undefined);
});
