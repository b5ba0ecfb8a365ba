import { fileURLToPath } from 'node:url';
import { readRelayMark } from '@wxim/im';
import { paceOf } from '@wxim/sandbox';
import { agentsAnswer, customersWhoWrote, eventually, freePort, runService, twoWayForTests, whenReady } from '@wxim/testkit';
import { Redis } from 'ioredis';
import t from 'tap';

// IM's real limit (200/s per command) and the relay's default IM_RATE_LIMIT 180 (177 started in
// any second) for modify_c2c_msg, the marks' own command. Replies are not confirmed in IM's
// history here (CALLBACK_VERIFY=off), so that deliveries outrun the marks' budget and the marks'
// pace is what is measured; no sweeps. The pusher runs in its own process, as deployed: on a
// loaded machine the simulators' record of when calls arrived is not held up by its work, nor
// its work by the test's (the pusher of this process is built but never started).
const FLEET = 180;
const STARTED = 177;
const PUSHER = fileURLToPath(new URL('../../services/wechat-pusher/dist/main.js', import.meta.url));
const relay = await twoWayForTests(t, {
  env: { CALLBACK_SWEEP_MS: '0', CALLBACK_VERIFY: 'off', WORKER_CONCURRENCY: '32', LOG_LEVEL: 'silent' },
  startPusher: false,
});
const { im, wechatApi } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());

t.test("a burst of replies is marked within IM's budget for modify_c2c_msg, and uses it", async (t) => {
  const list = await customersWhoWrote(relay, redis, 900);
  // 900 replies waiting at once, stored before the pusher starts: the seconds measured are its alone.
  const sent = await agentsAnswer(relay, list, (openid) => `reply to ${openid}`);
  await eventually('every reply stored', async () => (await relay.pusher.queue.count()) >= list.length, 30_000, 50);
  const port = await freePort();
  const pusher = runService(PUSHER, { ...relay.env, PUSHER_PORT: String(port) });
  t.teardown(async () => {
    pusher.child.kill('SIGTERM');
    await pusher.exited;
  });
  const since = Date.now();
  await whenReady(port, pusher.child);
  await eventually('every reply delivered', () => list.every((c) => wechatApi.sentTo(c.openid).length === 1), 60_000, 50);
  await eventually('every reply marked delivered', () => im.stats.modified >= list.length, 60_000, 50);
  const marked = new Set(sent.map((s) => s.msgKey));
  t.equal(
    im.messages.filter((m) => marked.has(m.msgKey) && readRelayMark(m.cloudCustomData)?.state === 'delivered').length,
    list.length,
    'each marked delivered',
  );
  t.equal(im.stats.modified, list.length, 'once each');
  t.equal(im.stats.rateLimited, 0, 'IM never answered 60007');
  const pace = paceOf(im.callsPerSecond(), 'openim/modify_c2c_msg', since, Date.now());
  // Counted as the simulator received them: a call started at the end of one second may arrive in
  // the next, so 5% is left for calls in flight (as in the other pace tests), still under IM's own
  // 200 — which the 60007 count above holds.
  t.ok(pace.max <= FLEET * 1.05, `never over the fleet's pace (${FLEET}, 5% for calls in flight) in a second: ${pace.seconds.join(', ')}`);
  const full = pace.seconds.filter((n) => n > 0).slice(0, -1); // the last second is partly idle
  t.ok(Math.max(...full) >= 0.95 * STARTED, `a full second uses the budget: ${Math.max(...full)} of ${STARTED}`);
});
