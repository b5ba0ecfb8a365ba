import { loadConfig } from '@wxim/config';
import { createImWorker } from '@wxim/im-worker';
import t from 'tap';
import { APP_ID, AES_KEY, TOKEN, eventually, converse, startTestRedis, startRelay, textOf, startWorkerProcess as startWorker } from '@wxim/testkit';
const redis = await startTestRedis();
// The in-process worker stays off: a separate im-worker process does the work until it is killed.
const relay = await startRelay(redis.url, { startWorker: false, env: { WORKER_STALL_MS: '1500' } });
t.teardown(async () => {
  await relay.close();
  await redis.close();
});

/** An im-worker process (the service's own main.js), not waited for. */
async function startWorkerProcess() {
  return (await startWorker({ REDIS_URL: redis.url, ...relay.env }, { noWait: true })).child;
}

t.test('a worker killed with SIGKILL mid-load loses nothing: its jobs finish on another worker', async (t) => {
  // Slow answers keep jobs in flight, some already processed by IM when the worker dies.
  relay.im.faults = { rate: 1, kinds: ['slow'], slowMs: 150 };
  const child = await startWorkerProcess();
  const exited = new Promise((r) => child.once('exit', r));
  const sending = converse(relay.wechat, 10, 10, () => {});
  while (relay.im.messages.length < 25) await new Promise((r) => setTimeout(r, 10));
  child.kill('SIGKILL');
  await exited;
  const killedAt = relay.im.messages.length;
  t.ok(killedAt < 100, `killed after ${killedAt} of 100 messages`);
  // Another worker takes over; what the dead one held is found stalled and run again.
  const config = loadConfig({ REDIS_URL: redis.url, WECHAT_TOKEN: TOKEN, WECHAT_APP_ID: APP_ID, WECHAT_ENCODING_AES_KEY: AES_KEY, ...relay.env });
  const rescuer = await createImWorker(config, { backoffBaseMs: 50, waitMs: 2000, imTimeoutMs: 1000 });
  rescuer.start();
  t.teardown(() => rescuer.close());
  const conversations = await sending;
  await relay.waitForMessages(100, 60_000);
  for (const { openid, texts } of conversations) t.same(relay.im.messagesBetween(openid).map(textOf), texts, openid);
  t.equal(relay.im.messages.length, 100, 'exactly once');
});

t.test('SIGTERM: the worker finishes the jobs in flight, then exits 0', async (t) => {
  relay.im.faults = { rate: 1, kinds: ['slow'], slowMs: 600 };
  const before = relay.im.messages.length;
  const child = await startWorkerProcess();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const customers = Array.from({ length: 4 }, (_, i) => relay.wechat.text(`oShutdown${i}${'x'.repeat(18)}`, `in flight ${i}`));
  for (const push of customers) t.equal((await relay.wechat.push(push)).status, 200);
  // Wait until the worker has them in flight (IM answers slowly), then ask it to stop.
  const queue = relay.gateway.gateway.queue;
  while ((await queue.getActiveCount()) < 4) await new Promise((r) => setTimeout(r, 10));
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'clean exit');
  t.equal(relay.im.messages.length - before, 4, 'all four delivered before it exited');
  t.equal(await queue.getActiveCount(), 0, 'nothing left active for another worker to rescue');
  relay.im.faults = { rate: 0, kinds: [] };
});

t.test('a shutdown that times out hands the jobs in flight back: another worker relays each once, at once', async (t) => {
  const config = loadConfig({ REDIS_URL: redis.url, WECHAT_TOKEN: TOKEN, WECHAT_APP_ID: APP_ID, WECHAT_ENCODING_AES_KEY: AES_KEY, ...relay.env });
  const leaving = await createImWorker(config, { backoffBaseMs: 50, waitMs: 2000, imTimeoutMs: 10_000, shutdownTimeoutMs: 300 });
  leaving.start();
  // Three known customers (imported by a first message), so what is in flight below is the send itself.
  const customers = Array.from({ length: 3 }, (_, i) => `oHandBack${i}${'x'.repeat(19)}`);
  const before = relay.im.messages.length;
  for (const openid of customers) t.equal((await relay.wechat.push(relay.wechat.text(openid, 'first'))).status, 200);
  await relay.waitForMessages(before + 3);
  // IM now stores each message, then answers 3 s later; the worker may wait 300 ms for its jobs.
  relay.im.faults = { rate: 1, kinds: ['slow'], slowMs: 3000 };
  const dropped = relay.im.stats.duplicatesDropped;
  for (const openid of customers) t.equal((await relay.wechat.push(relay.wechat.text(openid, 'second'))).status, 200);
  const queue = relay.gateway.gateway.queue;
  await eventually('the three sends are in flight', async () => (await queue.getActiveCount()) === 3 && relay.im.messages.length === before + 6);
  const started = Date.now();
  await leaving.close();
  t.ok(Date.now() - started < 2500, `closed in ${Date.now() - started} ms, without waiting for IM's answers`);
  t.equal(await queue.getActiveCount(), 0, 'no job left locked by the worker that left');
  t.equal(await queue.getWaitingCount(), 3, 'all three back in the queue, ready for the next worker');
  relay.im.faults = { rate: 0, kinds: [] };
  const next = await createImWorker(config, { backoffBaseMs: 50, waitMs: 2000, imTimeoutMs: 1000 });
  next.start();
  t.teardown(() => next.close());
  await eventually('the next worker has sent them again', () => relay.im.stats.duplicatesDropped - dropped === 3);
  await eventually('the queue is empty', async () => (await queue.getActiveCount()) + (await queue.getWaitingCount()) + (await queue.getDelayedCount()) === 0);
  for (const openid of customers) t.same(relay.im.messagesBetween(openid).map(textOf), ['first', 'second'], `${openid}: in order, once each`);
  t.equal(relay.im.messages.length - before, 6, 'exactly once: IM dropped the resends as repeats');
});
