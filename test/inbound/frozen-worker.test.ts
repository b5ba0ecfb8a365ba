import { fakeOpenId } from '@wxim/sandbox';
import t from 'tap';
import { request } from 'undici';
import { eventually, startTestRedis, startRelay, textOf, startWorkerProcess } from '@wxim/testkit';

// IM's duplicate window shortened from 120 s to 2 s, on both sides, so that a worker frozen past it
// takes seconds, not minutes. IM_RATE_LIMIT 5 keeps jobs waiting for their turn under the cap
// (where a frozen worker's jobs sit), WORKER_STALL_MS 1000 lets the other worker take them soon.
const WINDOW_MS = 2000;
const redis = await startTestRedis();
const relay = await startRelay(redis.url, { startWorker: false, sim: { dedupeWindowMs: WINDOW_MS }, env: { IM_RATE_LIMIT: '5', WORKER_STALL_MS: '1000' } });
t.teardown(async () => {
  await relay.close();
  await redis.close();
});

async function metric(port: number, name: string): Promise<number> {
  const res = await request(`http://127.0.0.1:${port}/metrics`);
  const line = (await res.body.text()).split('\n').find((l) => l.startsWith(name));
  return Number(line?.split(' ').at(-1) ?? 0);
}

t.test('a worker frozen past its locks sends nothing when it wakes: nothing twice, order kept', async (t) => {
  const env = { ...relay.env, REDIS_URL: redis.url };
  const frozen = await startWorkerProcess(env, { imDuplicateWindowMs: WINDOW_MS });
  const other = await startWorkerProcess(env, { imDuplicateWindowMs: WINDOW_MS });
  t.teardown(async () => {
    await frozen.stop();
    await other.stop();
  });
  const { wechat, im } = relay;
  const customers = Array.from({ length: 10 }, fakeOpenId);
  const texts = (openid: string) => Array.from({ length: 4 }, (_, i) => `${openid.slice(0, 6)} ${i}`);
  for (const openid of customers) for (const text of texts(openid)) t.equal((await wechat.push(wechat.text(openid, text))).status, 200);
  // Freeze it while it holds jobs waiting for their turn under the cap: stopped at the moment it is
  // seen holding three or more (read again later, one of them could have gone by then).
  let held = 0;
  await eventually('the worker to freeze has jobs in flight', async () => {
    held = await metric(frozen.port, 'wxim_im_jobs_in_flight');
    if (held < 3) return false;
    frozen.child.kill('SIGSTOP');
    return true;
  });
  await relay.waitForMessages(40, 60_000);
  const relayedAt = Date.now();
  // Past IM's duplicate window: a late send from the frozen worker would be taken as new.
  await eventually("IM's duplicate window has passed", () => Date.now() - relayedAt > WINDOW_MS + 500, 10_000, 100);
  frozen.child.kill('SIGCONT');
  await eventually('the woken worker has given up every job it held', async () => (await metric(frozen.port, 'wxim_im_jobs_in_flight')) === 0, 15_000);
  t.comment(`it held ${held} jobs when frozen`);
  t.ok((await metric(frozen.port, 'wxim_im_retries_total{class="lock_lost"}')) >= 1, 'it found their locks lost');
  for (const openid of customers) t.same(im.messagesBetween(openid).map(textOf), texts(openid), `${openid}: once each, in order`);
  t.equal(im.messages.length, 40, 'nothing twice');
});
