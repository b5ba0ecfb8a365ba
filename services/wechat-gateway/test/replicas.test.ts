import { Redis } from 'ioredis';
import { DEFAULT_OFF_HOURS_TEXT } from '@wxim/config';
import t from 'tap';
import { LocalRedis, eventually, startGateway } from '@wxim/testkit';

// A real primary and a replica, each a redis-server of its own. The budget for storing a push is
// cut from 4 s to 1 s to keep the test short.
const BUDGET_MS = 1000;
const primary = await LocalRedis.start({ appendonly: true });
const replica = await LocalRedis.start({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
t.teardown(async () => {
  await replica.close();
  await primary.close();
});
const replicaClient = new Redis(replica.url);
t.teardown(() => replicaClient.disconnect());
await eventually('the replica is in sync', async () => /master_link_status:up/.test(await replicaClient.info('replication')));

/** Runs `fn` while the replica is frozen (it answers nothing), then thaws it. */
async function whileFrozen<T>(fn: () => Promise<T>): Promise<T> {
  replica.pause();
  try {
    return await fn();
  } finally {
    replica.resume();
  }
}

t.test('REDIS_WAIT_REPLICAS=1: a push is acknowledged once the replica has it; 503 while the replica does not answer', async (t) => {
  const gw = await startGateway(primary.url, { REDIS_WAIT_REPLICAS: '1' }, { enqueueTimeoutMs: BUDGET_MS });
  t.teardown(() => gw.close());
  const wx = gw.platform('safe');
  t.equal((await wx.push(wx.text('oReplica00000000000000000001', 'kept twice'))).status, 200);
  const key = `${gw.config.queuePrefix}:wechat-inbound:m-oReplica00000000000000000001-*`;
  t.equal((await replicaClient.keys(key)).length, 1, 'the replica has the job when the gateway answers');

  const push = wx.sign(wx.text('oReplica00000000000000000002', 'while the replica is frozen'));
  const started = Date.now();
  const res = await whileFrozen(() => wx.post(push));
  t.equal(res.status, 503, 'not acknowledged: the primary alone has it');
  t.ok(Date.now() - started < BUDGET_MS + 500, `answered within the budget (${Date.now() - started} ms)`);
  await eventually("WeChat's retry is acknowledged once the replica is back", async () => (await wx.post(push)).status === 200, 10_000, 100);
  const stored = (await gw.gateway.queue.getJobs(['wait'])).filter((j) => j.data.message.fromUserName === 'oReplica00000000000000000002');
  t.equal(stored.length, 1, 'stored once');
});

t.test("a push answered 503 after its store still carries its off-hours notice on WeChat's retry, once", async (t) => {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const closedNow = `${days[(new Date().getUTCDay() + 2) % 7]} 10:00-10:01`;
  const env = { REDIS_WAIT_REPLICAS: '1', IM_AGENTS: 'agent-1', BUSINESS_HOURS: closedNow, BUSINESS_TZ: 'UTC' };
  const gw = await startGateway(primary.url, env, { enqueueTimeoutMs: BUDGET_MS });
  t.teardown(() => gw.close());
  const wx = gw.platform('safe');
  const openid = 'oReplica00000000000000000005';
  const push = wx.sign(wx.text(openid, 'are you open?'));
  const res = await whileFrozen(() => wx.post(push));
  t.equal(res.status, 503, 'stored on the primary alone: not acknowledged');
  let retry!: Awaited<ReturnType<typeof wx.post>>;
  await eventually("WeChat's retry is acknowledged once the replica is back", async () => (retry = await wx.post(push)).status === 200, 10_000, 100);
  t.match(retry.reply, `<Content><![CDATA[${DEFAULT_OFF_HOURS_TEXT}]]></Content>`, 'the retry answers with the notice the first answer could not carry');
  t.equal((await wx.push(wx.text(openid, 'hello'))).body, 'success', 'still once per AUTO_REPLY_EVERY');
});

t.test('REDIS_WAIT_REPLICAS above the replicas there are: every push is answered 503', async (t) => {
  const gw = await startGateway(primary.url, { REDIS_WAIT_REPLICAS: '2' }, { enqueueTimeoutMs: BUDGET_MS });
  t.teardown(() => gw.close());
  const wx = gw.platform('safe');
  t.equal((await wx.push(wx.text('oReplica00000000000000000003', 'one replica only'))).status, 503);
});

t.test('without REDIS_WAIT_REPLICAS the same frozen replica does not hold pushes back: the primary alone acknowledges', async (t) => {
  const gw = await startGateway(primary.url, {}, { enqueueTimeoutMs: BUDGET_MS });
  t.teardown(() => gw.close());
  const wx = gw.platform('safe');
  t.equal((await whileFrozen(() => wx.push(wx.text('oReplica00000000000000000004', 'the primary has it')))).status, 200);
});
