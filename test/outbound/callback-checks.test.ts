import { callbackSign, textElem } from '@wxim/im';
import { fakeOpenId } from '@wxim/sandbox';
import { Redis } from 'ioredis';
import t from 'tap';
import { request } from 'undici';
import { CALLBACK_TOKEN, IM_APP_ID, twoWayForTests } from '@wxim/testkit';

const relay = await twoWayForTests(t);
const { im } = relay;
const openid = fakeOpenId();
const agent = await relay.customerWrites(openid, 'hello');
const customer = im.messages.find((m) => m.cloudCustomData?.includes(openid))!.from;

async function jobs(): Promise<number> {
  const counts = await relay.callback.queue.getJobCounts('wait', 'active', 'delayed', 'completed', 'failed', 'prioritized');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

function afterSend(from: string, to: string, msgKey: string, extra: Record<string, unknown> = {}) {
  return {
    CallbackCommand: 'C2C.CallbackAfterSendMsg',
    From_Account: from,
    To_Account: to,
    MsgSeq: 1,
    MsgRandom: 2,
    MsgTime: Math.floor(Date.now() / 1000),
    MsgKey: msgKey,
    OnlineOnlyFlag: 0,
    MsgBody: [textElem('a reply')],
    CloudCustomData: '',
    SendMsgResult: 0,
    ErrorInfo: 'send msg succeed',
    UnreadMsgNum: 0,
    EventTime: Date.now(),
    ...extra,
  };
}

async function post(body: unknown, query: Record<string, string> = {}, raw?: string) {
  const requestTime = String(Math.floor(Date.now() / 1000));
  const q = new URLSearchParams({
    SdkAppid: String(IM_APP_ID),
    CallbackCommand: 'C2C.CallbackAfterSendMsg',
    contenttype: 'json',
    ClientIP: '127.0.0.1',
    OptPlatform: 'Web',
    RequestTime: requestTime,
    Sign: callbackSign(CALLBACK_TOKEN, requestTime),
    ...query,
  });
  const res = await request(`${relay.callbackUrl}?${q.toString()}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ?? JSON.stringify(body),
  });
  return { status: res.statusCode, body: (await res.body.json()) as { ActionStatus: string; ErrorCode: number } };
}

t.test('a signed after-send callback from an agent to a customer is stored once, however often it comes', async (t) => {
  const before = await jobs();
  const body = afterSend(agent, customer, `key-${Date.now()}`);
  t.match(await post(body), { status: 200, body: { ActionStatus: 'OK', ErrorCode: 0 } });
  t.match(await post(body), { status: 200, body: { ActionStatus: 'OK' } });
  t.equal(await jobs(), before + 1);
});

t.test('bad callbacks are refused with an IM-style 4xx and change nothing', async (t) => {
  const before = await jobs();
  const body = afterSend(agent, customer, `bad-${Date.now()}`);
  t.match(await post(body, { Sign: 'f'.repeat(64) }), { status: 401, body: { ActionStatus: 'FAIL' } }, 'wrong Sign');
  t.match(await post(body, { Sign: 'short' }), { status: 401 }, 'a Sign of the wrong length');
  const stale = String(Math.floor(Date.now() / 1000) - 600);
  t.match(await post(body, { RequestTime: stale, Sign: callbackSign(CALLBACK_TOKEN, stale) }), { status: 401 }, 'stale RequestTime');
  t.match(await post(body, { SdkAppid: '1400000001' }), { status: 403 }, 'another app');
  t.match(await post(undefined, {}, '{"From_Account": "agent_a", '), { status: 400, body: { ActionStatus: 'FAIL' } }, 'malformed JSON');
  t.match(await post({ ...body, MsgBody: 'text' }), { status: 400 }, 'a body that is not what IM documents');
  t.match(await post(undefined, {}, JSON.stringify({ ...body, pad: 'x'.repeat(100_000) })), { status: 413 }, 'too large');
  t.equal(await jobs(), before);
});

t.test('callbacks that are not an agent reply are answered OK and change nothing', async (t) => {
  const before = await jobs();
  const other = fakeOpenId();
  await relay.customerWrites(other, 'me too');
  const otherCustomer = im.messages.find((m) => m.cloudCustomData?.includes(other))!.from;
  const key = () => `n-${Math.random()}`;
  t.match(await post(afterSend(customer, otherCustomer, key())), { status: 200, body: { ActionStatus: 'OK' } }, 'customer to customer');
  t.match(await post(afterSend(agent, 'agent_b', key())), { status: 200 }, 'agent to agent');
  t.match(await post(afterSend(customer, agent, key(), { CloudCustomData: JSON.stringify({ source: 'wechat' }) })), { status: 200 }, 'our own send');
  t.match(
    await post(afterSend(agent, customer, key(), { CloudCustomData: JSON.stringify({ source: 'relay-notice' }) })),
    { status: 200 },
    "a relay notice, even one in an agent's name",
  );
  t.match(await post(afterSend(agent, customer, key(), { SendMsgResult: 80001 })), { status: 200 }, 'a send IM did not deliver');
  t.match(await post(afterSend(agent, 'nobody', key())), { status: 200 }, 'to an account that is no customer');
  t.match(await post({ CallbackCommand: 'Group.CallbackAfterSendMsg' }, { CallbackCommand: 'Group.CallbackAfterSendMsg' }), { status: 200 }, 'another command');
  t.equal(await jobs(), before);
});

t.test('a command the relay does not handle is counted as other: a captured callback URL cannot add a series with each request', async (t) => {
  const series = async () =>
    (await relay.callback.app.inject({ url: '/metrics' })).body.split('\n').filter((l) => l.startsWith('wxim_callback_requests_total{'));
  const before = await series();
  for (let i = 0; i < 5; i++) {
    const command = `Made.Up.${i}.${Math.random()}`;
    t.match(await post({ CallbackCommand: command }, { CallbackCommand: command }), { status: 200 });
  }
  const after = await series();
  t.notOk(
    after.some((l) => l.includes('Made.Up')),
    'no series named after a made-up command',
  );
  t.ok(after.length - before.length <= 1, `at most one new series (${after.length - before.length})`);
  const other = after.find((l) => l.startsWith('wxim_callback_requests_total{command="other",outcome="ignored"}'));
  t.ok(Number(other?.split(' ')[1]) >= 5, `each counted as other (${other})`);
});

t.test("an agent's login is recorded", async (t) => {
  await im.agentLogin('agent_c');
  const redis = new Redis(relay.redisUrl);
  t.teardown(() => redis.disconnect());
  const state = await redis.hget(`${relay.env['QUEUE_PREFIX']}:agent-state`, 'agent_c');
  t.match(JSON.parse(state ?? '{}'), { action: 'Login' });
});
