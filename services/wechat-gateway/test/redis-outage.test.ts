import { request } from 'undici';
import t from 'tap';
import { eventually, startGateway, startTestRedis } from '@wxim/testkit';

const BUDGET_MS = 4000;
const redis = await startTestRedis({ own: true });
t.teardown(() => redis.close());
const gw = await startGateway(redis.url);
t.teardown(() => gw.close());
const wx = gw.platform('safe');

async function readyStatus(): Promise<number> {
  const res = await request(`${gw.url}/readyz`);
  await res.body.dump();
  return res.statusCode;
}

t.test('Redis stopped: 503 within the budget, never success; pushes succeed again once it is back', async (t) => {
  t.equal((await wx.push(wx.text('oOutage0000000000000000000001', 'before'))).status, 200);
  await redis.stop();
  const started = Date.now();
  const res = await wx.push(wx.text('oOutage0000000000000000000001', 'during'));
  t.equal(res.status, 503);
  t.not(res.body, 'success');
  t.ok(Date.now() - started < BUDGET_MS + 500, `answered in ${Date.now() - started} ms`);
  t.equal(await readyStatus(), 503, 'not ready while Redis is away');
  await redis.start();
  const msg = wx.text('oOutage0000000000000000000001', 'after');
  await eventually('a push is stored again', async () => (await wx.push(msg)).status === 200, 15_000, 50);
  t.equal(await readyStatus(), 200);
  const jobs = await gw.gateway.queue.getJobs(['wait']);
  t.same(
    jobs.map((j) => (j.data.message.kind === 'text' ? j.data.message.content : '')),
    ['after'],
    'the restarted Redis (no AOF here) holds the push sent after it came back',
  );
});

t.test('Redis frozen: 503 after the budget, and the retry WeChat makes is stored once', async (t) => {
  const msg = wx.text('oOutage0000000000000000000002', 'frozen');
  redis.pause();
  const started = Date.now();
  try {
    const res = await wx.push(msg);
    const took = Date.now() - started;
    t.equal(res.status, 503);
    t.ok(took >= BUDGET_MS - 100 && took < BUDGET_MS + 750, `answered in ${took} ms`);
  } finally {
    redis.resume();
  }
  // The add that timed out may still land once Redis thaws; WeChat's retry must not double it.
  await eventually('the retry is stored', async () => (await wx.push(msg)).status === 200, 15_000, 50);
  const frozen = (await gw.gateway.queue.getJobs(['wait'])).filter((j) => j.data.message.fromUserName === 'oOutage0000000000000000000002');
  t.equal(frozen.length, 1);
});

t.test('a gateway started while Redis is down answers 503, then serves once Redis is up', async (t) => {
  const late = await startTestRedis({ own: true });
  t.teardown(() => late.close());
  await late.stop();
  const gw2 = await startGateway(late.url);
  t.teardown(() => gw2.close());
  const wx2 = gw2.platform('safe');
  const early = wx2.sign(wx2.text('oOutage0000000000000000000003', 'too early'));
  t.equal((await wx2.post(early)).status, 503);
  await late.start();
  const msg = wx2.text('oOutage0000000000000000000003', 'on time');
  await eventually('the late gateway stores pushes', async () => (await wx2.push(msg)).status === 200, 15_000, 50);
  // The 503'd push may have been stored once Redis came up; WeChat's retry must not double it.
  t.equal((await wx2.post(early)).status, 200);
  const contents = (await gw2.gateway.queue.getJobs(['wait'])).map((j) => (j.data.message.kind === 'text' ? j.data.message.content : '')).sort();
  t.same(contents, ['on time', 'too early']);
});
