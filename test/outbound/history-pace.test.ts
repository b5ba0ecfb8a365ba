import { textElem } from '@wxim/im';
import { paceOf } from '@wxim/sandbox';
import { agentsAnswer, customersWhoWrote, eventually, twoWayForTests } from '@wxim/testkit';
import { Redis } from 'ioredis';
import t from 'tap';

// IM's real limit (200/s per command) and the relay's defaults: IM_RATE_LIMIT 180 (177 started
// in any second), CALLBACK_RECOVERY_PERCENT 25. Confirming replies may use 75% of the history
// command's pace, 135/s (of which the relay starts 133 in any second, keeping 2 for the way to IM;
// looking for missed callbacks has the rest: see callback-sweep.test.ts). The share is used, never
// passed. No sweeps here: they would share the count.
const FLEET = 180;
const CONFIRM = 135;
const relay = await twoWayForTests(t, { env: { CALLBACK_SWEEP_MS: '0', WORKER_CONCURRENCY: '32' } });
const { im, wechatApi } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());

t.test("replies are confirmed within their share of IM's history budget, and use it", async (t) => {
  const list = await customersWhoWrote(relay, redis, 800);
  // 800 replies of 800 customers waiting at once (their callbacks answered 50 at a time): one look each, 133 a second at most, so about
  // six seconds, four of them whole even when a loaded machine notices the end late. They are
  // stored first, so the seconds measured are the pusher's alone, not the callbacks' too.
  await relay.pusher.worker.pause();
  const sent = await agentsAnswer(relay, list, (openid) => `reply to ${openid}`);
  t.equal(sent.filter((s) => s.delivered).length, list.length, 'every callback answered in time');
  await eventually('every reply stored', async () => (await relay.pusher.queue.count()) >= list.length, 30_000, 50);
  const since = Date.now();
  await relay.pusher.worker.resume();
  await eventually('every reply delivered', () => list.every((c) => wechatApi.sentTo(c.openid).length === 1), 40_000, 50);
  const pace = paceOf(im.callsPerSecond(), 'openim/admin_getroammsg', since, Date.now());
  t.ok(pace.max <= FLEET, `never over the fleet's pace in a second: ${pace.seconds.join(', ')}`);
  const full = pace.seconds.slice(0, -1); // the last second is partly idle
  // The share bounds the calls started in any second (133); a second as IM counts arrivals may
  // also hold a few started at the end of the one before, delayed in a burst. IM's own limit, far
  // above, is never approached (the fleet's pace, above).
  t.ok(Math.max(...full) <= CONFIRM * 1.05, `never over the confirmations' share (${CONFIRM}, 5% for calls in flight) in a second: ${full.join(', ')}`);
  t.ok(Math.max(...full) >= 0.95 * CONFIRM, `a full second uses the share: ${Math.max(...full)} of ${CONFIRM}`);
});

t.test("a customer's replies waiting together are confirmed by one look at the history", async (t) => {
  const [c] = await customersWhoWrote(relay, redis, 1);
  await relay.pusher.worker.pause(); // the replies pile up, as behind a slow one
  for (let i = 1; i <= 5; i++) await im.agentSend(c!.agent, c!.openid, [textElem(`part ${i}`)]);
  const calls = () => (im.callsPerSecond()['openim/admin_getroammsg'] ?? []).reduce((n, [, k]) => n + k, 0);
  const before = calls();
  await relay.pusher.worker.resume();
  await eventually('all five delivered', () => wechatApi.sentTo(c!.openid).length === 5, 15_000);
  t.same(
    wechatApi.sentTo(c!.openid).map((m) => m.payload['content']),
    ['part 1', 'part 2', 'part 3', 'part 4', 'part 5'],
  );
  t.equal(calls() - before, 1, 'one history call for the five');
});
