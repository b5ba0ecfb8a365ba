import { callbackSign } from '@wxim/im';
import t from 'tap';
import { request } from 'undici';
import { AGENTS, CALLBACK_TOKEN, IM_APP_ID, twoWayForTests } from '@wxim/testkit';

const relay = await twoWayForTests(t);
const { openid, userId: customer, agent } = await relay.newCustomer();

async function jobs(): Promise<number> {
  const counts = await relay.callback.queue.getJobCounts('wait', 'active', 'delayed', 'completed', 'failed', 'prioritized');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

async function post(command: string, body: unknown) {
  const requestTime = String(Math.floor(Date.now() / 1000));
  const q = new URLSearchParams({
    SdkAppid: String(IM_APP_ID),
    CallbackCommand: command,
    contenttype: 'json',
    ClientIP: '127.0.0.1',
    OptPlatform: 'Web',
    RequestTime: requestTime,
    Sign: callbackSign(CALLBACK_TOKEN, requestTime),
  });
  const res = await request(`${relay.callbackUrl}?${q.toString()}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, body: (await res.body.json()) as { ActionStatus: string; ErrorInfo: string } };
}

const onlineOnly = (msgKey: string, data: string, extra: Record<string, unknown> = {}) => ({
  CallbackCommand: 'C2C.CallbackAfterSendMsg',
  From_Account: agent,
  To_Account: customer,
  MsgSeq: 7,
  MsgRandom: 8,
  MsgTime: Math.floor(Date.now() / 1000),
  MsgKey: msgKey,
  OnlineOnlyFlag: 1,
  MsgBody: [{ MsgType: 'TIMCustomElem', MsgContent: { Data: data, Desc: '', Ext: '', Sound: '' } }],
  CloudCustomData: '',
  SendMsgResult: 0,
  ErrorInfo: 'send msg succeed',
  UnreadMsgNum: 0,
  EventTime: Date.now(),
  ...extra,
});

t.test('an online-only message that is not typing is answered OK and never stored nor delivered', async (t) => {
  const before = await jobs();
  const res = await post('C2C.CallbackAfterSendMsg', onlineOnly('9_9_online', JSON.stringify({ businessID: 'something_else' })));
  t.equal(res.status, 200);
  t.equal(await jobs(), before, 'nothing stored');
  t.equal(relay.wechatApi.sentTo(openid).length, 0, 'nothing delivered');
  const metrics = (await relay.callback.app.inject({ url: '/metrics' })).body;
  t.match(metrics, /wxim_callback_requests_total\{command="C2C.CallbackAfterSendMsg",outcome="online_only"\} 1/, 'counted');
});

t.test('a typing message is stored once out of line, whatever IM says of its delivery to the offline customer', async (t) => {
  const before = await jobs();
  const typing = onlineOnly('9_10_typing', JSON.stringify({ businessID: 'user_typing_status', typingStatus: 1 }), { SendMsgResult: 1 });
  t.equal((await post('C2C.CallbackAfterSendMsg', typing)).status, 200);
  t.equal((await post('C2C.CallbackAfterSendMsg', typing)).status, 200, 'a repeat is answered OK');
  t.equal(await jobs(), before + 1, 'stored once');
});

t.test('a recall is stored once; a malformed one is refused with 400 and changes nothing', async (t) => {
  const before = await jobs();
  const recall = { CallbackCommand: 'C2C.CallbackAfterMsgWithDraw', From_Account: agent, To_Account: customer, MsgKey: '9_11_recalled', EventTime: Date.now() };
  t.equal((await post('C2C.CallbackAfterMsgWithDraw', recall)).status, 200);
  t.equal((await post('C2C.CallbackAfterMsgWithDraw', recall)).status, 200);
  t.equal(await jobs(), before + 1, 'stored once');
  const bad = await post('C2C.CallbackAfterMsgWithDraw', { ...recall, MsgKey: 42 });
  t.equal(bad.status, 400);
  t.match(bad.body.ErrorInfo, /MsgKey is not a string/);
  const missing = await post('C2C.CallbackAfterMsgWithDraw', { From_Account: agent, To_Account: customer });
  t.equal(missing.status, 400);
  t.equal(await jobs(), before + 1, 'nothing more stored');
});

t.test("a recall naming another agent's reply, or another customer's, is ignored: IM's Sign covers no byte of the body", async (t) => {
  const reply = await relay.im.agentSend(agent, customer, [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'not yours to recall' } }]);
  await relay.waitForSent(openid, 1);
  const other = AGENTS.find((a) => a !== agent)!;
  const someoneElse = await relay.newCustomer();
  const before = await jobs();
  const forged = { CallbackCommand: 'C2C.CallbackAfterMsgWithDraw', MsgKey: reply.msgKey, EventTime: Date.now() };
  t.equal((await post('C2C.CallbackAfterMsgWithDraw', { ...forged, From_Account: other, To_Account: customer })).status, 200, 'answered as any');
  t.equal((await post('C2C.CallbackAfterMsgWithDraw', { ...forged, From_Account: agent, To_Account: someoneElse.userId })).status, 200);
  t.equal(await jobs(), before, 'nothing stored, nothing decided');
  t.equal((await post('C2C.CallbackAfterMsgWithDraw', { ...forged, From_Account: agent, To_Account: customer })).status, 200);
  t.equal(await jobs(), before + 1, "its own agent's recall of it is taken");
});

t.test("a recall of a message to someone who is not the relay's customer is ignored", async (t) => {
  const before = await jobs();
  const res = await post('C2C.CallbackAfterMsgWithDraw', { From_Account: agent, To_Account: 'nobody-here', MsgKey: '9_12_x' });
  t.equal(res.status, 200);
  t.equal(await jobs(), before);
});
