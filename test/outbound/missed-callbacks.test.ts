import { loadConfig } from '@wxim/config';
import { createImCallback } from '@wxim/im-callback';
import { textElem } from '@wxim/im';
import { fakeOpenId } from '@wxim/sandbox';
import { CALLBACK_TOKEN, IM_APP_ID, eventually, metricValue, twoWayForTests } from '@wxim/testkit';
import { request } from 'undici';
import { Redis } from 'ioredis';
import { stateKeys } from '@wxim/state';
import t from 'tap';

const HEARTBEAT_MS = 100;
const relay = await twoWayForTests(t, { callback: { heartbeatMs: HEARTBEAT_MS } });
const { im, wechatApi } = relay;

t.test('im-callback stopped, an agent replies, im-callback started again: the customer gets the reply, once', async (t) => {
  const openid = fakeOpenId();
  const agent = await relay.customerWrites(openid, 'hello');
  const userId = im.messages.find((m) => m.cloudCustomData?.includes(openid))!.from;
  await im.agentSend(agent, userId, [textElem('before the outage')]);
  await relay.waitForSent(openid, 1);

  await relay.callback.close();
  const lost = await im.agentSend(agent, userId, [textElem('while im-callback was down')]);
  t.notOk(lost.delivered, 'IM could not call back, and will not try again');
  await new Promise((r) => setTimeout(r, 4 * HEARTBEAT_MS)); // longer than three beats: a gap

  const restarted = await createImCallback(loadConfig({ ...relay.env, LOG_LEVEL: process.env['DBG'] ? 'info' : 'silent' }), { heartbeatMs: HEARTBEAT_MS });
  t.teardown(() => restarted.close());
  await restarted.app.listen({ host: '127.0.0.1', port: 0 });
  restarted.start();
  const sent = await relay.waitForSent(openid, 2);
  t.same(
    sent.map((m) => m.payload['content']),
    ['before the outage', 'while im-callback was down'],
    "found in IM's history and relayed; the reply seen before is not sent again",
  );
  await eventually('the gap is resolved', async () => (await restarted.watch.gaps()).length === 0);
  await restarted.recovery.idle();
  t.equal(wechatApi.sentTo(openid).length, 2, 'nothing doubled');

  // Another instance shuts down while IM still sends it a callback; the one still running recovers it.
  const draining = await createImCallback(loadConfig(relay.env), { heartbeatMs: HEARTBEAT_MS });
  await draining.app.listen({ host: '127.0.0.1', port: 0 });
  draining.start();
  im.setCallback(`http://127.0.0.1:${(draining.app.server.address() as { port: number }).port}/im/callback`, CALLBACK_TOKEN);
  draining.watch.closingNow();
  const refused = await im.agentSend(agent, userId, [textElem('while an instance was shutting down')]);
  t.notOk(refused.delivered, 'refused while shutting down');
  t.match(im.callbacks.at(-1), { status: 503 });
  await draining.close();
  const after = await relay.waitForSent(openid, 3);
  t.equal(after.at(-1)?.payload['content'], 'while an instance was shutting down', 'recovered by the instance still running');
});

t.test("a request that is not IM's, sent to an instance shutting down, is refused as such and marks no gap", async (t) => {
  const redis = new Redis(relay.redisUrl);
  t.teardown(() => redis.disconnect());
  const gaps = () => redis.zrange(stateKeys(relay.env['QUEUE_PREFIX']!).callbackGaps, 0, -1);
  await eventually('no gap waits', async () => (await gaps()).length === 0);
  const draining = await createImCallback(loadConfig(relay.env), { heartbeatMs: HEARTBEAT_MS });
  await draining.app.listen({ host: '127.0.0.1', port: 0 });
  draining.start();
  await eventually('the instance is known to the fleet', () => draining.watch.known);
  draining.watch.closingNow();
  const query = new URLSearchParams({
    SdkAppid: String(IM_APP_ID),
    CallbackCommand: 'C2C.CallbackAfterSendMsg',
    RequestTime: String(Math.floor(Date.now() / 1000)),
    Sign: '0'.repeat(64),
  });
  const res = await request(`http://127.0.0.1:${(draining.app.server.address() as { port: number }).port}/im/callback?${query.toString()}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  t.equal(res.statusCode, 401, 'refused for its signature, not answered "shutting down"');
  await res.body.dump();
  await draining.close();
  t.same(await gaps(), [], 'no time to look through');
});

t.test('a gap the recovery cannot look through yet shows as waiting, with its age, until IM answers again', async (t) => {
  const redis = new Redis(relay.redisUrl);
  t.teardown(() => redis.disconnect());
  const keys = stateKeys(relay.env['QUEUE_PREFIX']!);
  const running = await createImCallback(loadConfig(relay.env), { heartbeatMs: HEARTBEAT_MS });
  t.teardown(() => running.close());
  running.start();
  await eventually('the instance is known to the fleet', () => running.watch.known);
  const gauge = async (name: string) => Number(await metricValue(running.app, name));
  // Its own start after a quiet fleet is a gap too: looked through first.
  await eventually('no gap waits', async () => (await gauge('wxim_callback_gaps_waiting')) === 0, 15_000, 50);
  t.equal(await gauge('wxim_callback_gap_oldest_seconds'), 0, 'and none is old');
  im.faults = { rate: 1, kinds: ['busy'] }; // IM answers every call "busy"
  t.teardown(() => {
    im.faults = { rate: 0, kinds: [] };
  });
  // What a replica killed ten seconds ago leaves: its last beat, and no clean stop.
  const lastBeat = Date.now() - 10_000;
  await redis.hset(keys.callbackInstances, 'killed-replica', String(lastBeat));
  // Its gap, from its last beat. Not the only one, maybe: this process runs both instances, and
  // a stall of it longer than three beats (100 ms here) is a silence of the fleet, rightly a gap too.
  await eventually('the gap waits', async () => (await redis.zrangebyscore(keys.callbackGaps, lastBeat, lastBeat)).length === 1, 15_000, 50);
  t.ok((await gauge('wxim_callback_gaps_waiting')) >= 1, 'counted as waiting');
  t.ok((await gauge('wxim_callback_gap_oldest_seconds')) >= 10, "as old as the dead replica's last beat");
  im.faults = { rate: 0, kinds: [] };
  await eventually('the gap is looked through', async () => (await gauge('wxim_callback_gaps_waiting')) === 0, 15_000, 50);
  t.equal(await gauge('wxim_callback_gap_oldest_seconds'), 0);
});
