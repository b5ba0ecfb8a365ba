import { textElem } from '@wxim/im';
import { replyJobId } from '@wxim/im-callback';
import { fakeOpenId, paceOf } from '@wxim/sandbox';
import { AGENTS, CALLBACK_TOKEN, eventually, metricValue, twoWayForTests } from '@wxim/testkit';
import { stateKeys } from '@wxim/state';
import { Redis } from 'ioredis';
import t from 'tap';

// Sweeps every second, up to 300 ms ago (every five minutes, up to 30 s ago, by default). A reply
// waits up to 20 s (3 s by default) for the agent's messages sent just before it, so that the
// sweep, not a race with it, decides when those come (see reply-order.test.ts for the default).
const relay = await twoWayForTests(t, { env: { CALLBACK_SWEEP_MS: '1000' }, callback: { sweepSettleMs: 300 }, pusher: { orderWaitMs: 20_000 } });
const { im } = relay;

// The sweep's share of IM's history command: CALLBACK_RECOVERY_PERCENT 25 of IM_RATE_LIMIT 180
// (of which the relay starts 44 in any second, keeping one for the way to IM).
const SWEEP_SHARE = 45;

/** Customers who wrote a moment ago, as the im-worker leaves them (no message needed: the sweep only looks). */
async function seedCustomers(count: number): Promise<void> {
  const redis = new Redis(relay.redisUrl);
  const keys = stateKeys(relay.env['QUEUE_PREFIX']!);
  for (let i = 0; i < count; i++) {
    const openid = fakeOpenId();
    await redis.hset(keys.openidOf, openid, openid);
    await redis.hset(keys.customer(openid), 'userId', openid, 'imported', '1', 'agent', AGENTS[i % AGENTS.length]!);
    await redis.zadd(keys.recentCustomers, Date.now(), openid);
  }
  redis.disconnect();
}

const texts = relay.textsTo;
const customer = () => relay.newCustomer();
const metric = (name: string) => metricValue(relay.callback.app, name);

t.test("callbacks IM could not deliver while every instance ran are found by the sweep: once each, in the agent's order", async (t) => {
  const c = await customer();
  await im.agentSend(c.agent, c.userId, [textElem('r1')]);
  await relay.waitForSent(c.openid, 1);
  im.callbackLost(2); // an ingress 502, a cut network: IM gave up on them at once
  await im.agentSend(c.agent, c.userId, [textElem('r2')]);
  await im.agentSend(c.agent, c.userId, [textElem('r3')]);
  await im.agentSend(c.agent, c.userId, [textElem('r4')]);
  t.same(
    im.callbacks.slice(-3).map((cb) => cb.outcome),
    ['lost', 'lost', 'ok'],
  );
  t.same(await relay.callback.watch.gaps(), [], 'no instance stopped or failed: no gap shows them');

  // r4 waits for r2 and r3, which IM's history shows were sent just before it: their places are kept ahead of it.
  await relay.waitForSent(c.openid, 4, 15_000);
  t.same(texts(c.openid), ['r1', 'r2', 'r3', 'r4']);
  t.equal(await metric('wxim_callback_recovered_total{via="sweep"}'), 2, 'counted as found by the sweep');
  t.equal(await metric('wxim_callback_recovered_total{via="gap"}'), 0);
  t.ok((await metric('wxim_callback_sweeps_total{outcome="ok"}'))! >= 1);
  t.ok((await metric('wxim_callback_sweep_duration_seconds_count'))! >= 1, 'each sweep timed');
  t.equal(await metric('wxim_callback_sweep_period_seconds'), 1);
  t.ok(Math.abs((await metric('wxim_callback_sweep_last_success_timestamp_seconds'))! - Date.now() / 1000) < 10, "the fleet's last success, from Redis");
  t.ok((await metric('wxim_callback_sweep_lag_seconds'))! < 5, 'not behind');
  t.ok((await metric('wxim_callback_sweep_conversations'))! >= 1, 'the conversation looked through');

  // Later sweeps see them again in the margin, and store nothing twice.
  const swept = (await metric('wxim_callback_sweeps_total{outcome="ok"}'))!;
  await eventually('two more sweeps', async () => (await metric('wxim_callback_sweeps_total{outcome="ok"}'))! >= swept + 2, 10_000, 100);
  t.equal(texts(c.openid).length, 4, 'nothing doubled');
  t.equal(await metric('wxim_callback_recovered_total{via="sweep"}'), 2);
});

t.test('replies found in several conversations in one sweep are each counted', async (t) => {
  const several = [await customer(), await customer(), await customer()];
  const before = (await metric('wxim_callback_recovered_total{via="sweep"}'))!;
  im.callbackLost(several.length);
  for (const c of several) await im.agentSend(c.agent, c.userId, [textElem(`missed for ${c.openid}`)]);
  for (const c of several) await relay.waitForSent(c.openid, 1, 15_000);
  t.equal(await metric('wxim_callback_recovered_total{via="sweep"}'), before + several.length);
});

t.test("a reply only its agent wrote, long after the customer, whose callback never came, is found through the agent's conversation list", async (t) => {
  const c = await customer();
  // The customer wrote ten minutes ago, as far as the relay knows: not active for a sweep by that.
  const redis = new Redis(relay.redisUrl);
  t.teardown(() => redis.disconnect());
  const keys = stateKeys(relay.env['QUEUE_PREFIX']!);
  await redis.zadd(keys.recentCustomers, Date.now() - 10 * 60_000, c.openid);
  im.callbackLost(1);
  await im.agentSend(c.agent, c.userId, [textElem('are you still there?')]);
  await relay.waitForSent(c.openid, 1, 15_000);
  t.same(texts(c.openid), ['are you still there?']);
  t.ok((im.callsPerSecond()['recentcontact/get_list'] ?? []).length > 0, "the agents' conversation lists were read");
});

t.test("another agent's reply to a customer, whose callback never came, is found through that agent's conversation list", async (t) => {
  const c = await customer();
  const other = AGENTS.find((a) => a !== c.agent)!;
  im.callbackLost(1);
  await im.agentSend(other, c.userId, [textElem('a colleague here: I can help too')]);
  await relay.waitForSent(c.openid, 1, 15_000);
  t.same(texts(c.openid), ['a colleague here: I can help too']);
});

t.test('a reply in a callback im-callback refused (a token IM and the relay disagree on) is found by the sweep once they agree', async (t) => {
  const c = await customer();
  im.setCallback(relay.callbackUrl, 'nottherelaystoken');
  let msgKey: string;
  try {
    const refused = await im.agentSend(c.agent, c.userId, [textElem('sent while the tokens differ')]);
    t.notOk(refused.delivered, 'im-callback refused the callback');
    msgKey = refused.msgKey;
  } finally {
    im.setCallback(relay.callbackUrl, CALLBACK_TOKEN);
  }
  await relay.waitForSent(c.openid, 1, 15_000);
  t.same(texts(c.openid), ['sent while the tokens differ']);
  t.equal((await relay.callback.queue.getJob(replyJobId(msgKey)))?.data.via, 'sweep', 'found by the sweep');
});

t.test('a sweep IM fails is counted, and the next looks through the same time again', async (t) => {
  const c = await customer();
  const failedBefore = (await metric('wxim_callback_sweeps_total{outcome="failed"}'))!;
  im.callbackLost(1);
  await im.agentSend(c.agent, c.userId, [textElem('found after IM came back')]);
  im.faults = { rate: 1, kinds: ['busy'] }; // IM answers every call "busy" for a while
  await eventually('a sweep fails', async () => (await metric('wxim_callback_sweeps_total{outcome="failed"}'))! > failedBefore, 15_000, 100);
  t.same(texts(c.openid), [], 'nothing found while IM fails');
  im.faults = { rate: 0, kinds: [] };
  await relay.waitForSent(c.openid, 1, 15_000);
  t.same(texts(c.openid), ['found after IM came back']);
});

t.test('a conversation IM keeps failing for holds back no other, and is looked through again until IM shows it', async (t) => {
  const stuck = await customer();
  const other = await customer();
  im.historyRefused.set(stuck.userId, 90994); // server busy, for this conversation only
  t.teardown(() => im.historyRefused.clear());
  const failedBefore = (await metric('wxim_callback_sweeps_total{outcome="failed"}'))!;
  im.callbackLost(2);
  await im.agentSend(stuck.agent, stuck.userId, [textElem('for the stuck one')]);
  await im.agentSend(other.agent, other.userId, [textElem('for the other')]);
  await relay.waitForSent(other.openid, 1, 15_000);
  t.same(texts(stuck.openid), [], 'not yet: IM fails for its conversation');
  await eventually('the sweep counted as failed', async () => (await metric('wxim_callback_sweeps_total{outcome="failed"}'))! > failedBefore, 15_000, 100);
  const redis = new Redis(relay.redisUrl);
  t.teardown(() => redis.disconnect());
  const keys = stateKeys(relay.env['QUEUE_PREFIX']!);
  t.ok((await redis.zscore(keys.callbackOwed, stuck.openid)) !== null, 'owed a look');
  t.ok((await metric('wxim_callback_sweep_lag_seconds'))! >= 1, 'the sweep counts as behind while a look is owed');
  im.historyRefused.clear();
  await relay.waitForSent(stuck.openid, 1, 15_000);
  t.same(texts(stuck.openid), ['for the stuck one']);
  await eventually('nothing owed', async () => (await redis.zcard(keys.callbackOwed)) === 0);
});

t.test("another agent's reply in a conversation IM kept failing for is found by the look owed to it, after that agent's list has moved on", async (t) => {
  const c = await customer();
  const other = AGENTS.find((a) => a !== c.agent)!;
  im.historyRefused.set(c.userId, 90994); // server busy, for this conversation only
  t.teardown(() => im.historyRefused.clear());
  const redis = new Redis(relay.redisUrl);
  t.teardown(() => redis.disconnect());
  const keys = stateKeys(relay.env['QUEUE_PREFIX']!);
  im.callbackLost(1);
  const sent = await im.agentSend(other, c.userId, [textElem('a colleague, while IM failed')]);
  await eventually('owed a look', async () => (await redis.zscore(keys.callbackOwed, c.openid)) !== null, 15_000, 100);
  // IM kept failing for the conversation longer than the sweeps look back (MARGIN_MS): the reply,
  // and the look owed, are ten minutes old. The other agent's conversation list no longer names the
  // customer for a sweep's range; the owed look alone remembers the conversation.
  const tenMinutesAgo = Date.now() - 10 * 60_000;
  im.messages.find((m) => m.msgKey === sent.msgKey)!.receivedAt = tenMinutesAgo;
  await redis.zadd(keys.callbackOwed, 'LT', tenMinutesAgo - 1000, c.openid);
  t.same(texts(c.openid), [], 'not yet: IM fails for the conversation');
  // A third agent IM has no account for (70107): their conversation is passed over, the others still read.
  const third = AGENTS.find((a) => a !== c.agent && a !== other)!;
  im.historyRefused.set(third, 70107);
  im.historyRefused.delete(c.userId);
  await relay.waitForSent(c.openid, 1, 15_000);
  im.historyRefused.delete(third);
  t.same(texts(c.openid), ['a colleague, while IM failed'], "found in the other agent's history");
  await eventually('nothing owed', async () => (await redis.zcard(keys.callbackOwed)) === 0);
});

t.test("a reply IM's history showed too late to be confirmed is delivered once a sweep sees it there", async (t) => {
  const c = await customer();
  im.historyLagMs = 3000; // longer than the pusher looks for it (about a second in these tests)
  t.teardown(() => {
    im.historyLagMs = 0;
  });
  const sent = await im.agentSend(c.agent, c.userId, [textElem('history was slow today')]);
  t.ok(sent.delivered, 'the callback came');
  await eventually(
    'refused as unconfirmed',
    async () => (await relay.callback.queue.getJob(replyJobId(sent.msgKey)))?.failedReason?.includes('not confirmed') === true,
    10_000,
  );
  t.same(texts(c.openid), []);
  await relay.waitForSent(c.openid, 1, 15_000);
  t.same(texts(c.openid), ['history was slow today'], 'once the history shows it, once');
});

t.test("a sweep looks through the history within its share of IM's budget, and uses it", async (t) => {
  await seedCustomers(200);
  const started = Date.now();
  // A sweep of over 200 conversations: about five seconds at 44 a second.
  const redis = new Redis(relay.redisUrl);
  t.teardown(() => redis.disconnect());
  const keys = stateKeys(relay.env['QUEUE_PREFIX']!);
  await eventually('a sweep of 200 conversations', async () => Number(await redis.hget(keys.callbackSweep, 'conversations')) >= 200, 30_000, 100);
  const lastSuccess = Number(await redis.hget(keys.callbackSweep, 'lastSuccessAt'));
  const record = im.callsPerSecond();
  // From the second the sweep's calls began (it starts at the next look whether one is due).
  const firstBusy = Math.min(...(record['openim/admin_getroammsg'] ?? []).filter(([s, n]) => s * 1000 >= started && n > 0).map(([s]) => s));
  const pace = paceOf(record, 'openim/admin_getroammsg', firstBusy * 1000, lastSuccess);
  t.ok(pace.seconds.length >= 3, `the sweep took several seconds (${pace.seconds.length} whole)`);
  t.ok(pace.max <= SWEEP_SHARE, `never over the share (${SWEEP_SHARE}) in a second: ${pace.seconds.join(', ')}`);
  t.ok(pace.median >= 0.95 * SWEEP_SHARE, `its share used: ${pace.median} a second in most seconds (${pace.mean.toFixed(1)} on average)`);
});

t.test('a reply whose callback never came is found after its agent deleted the conversation in their client', async (t) => {
  const c = await customer();
  im.callbackLost(1);
  await im.agentSend(c.agent, c.userId, [textElem('sent, then the agent tidied up')]);
  // The agent's client deletes the conversation, and its messages on IM's server for the agent's side.
  im.deleteConversation(c.agent, c.userId);
  await relay.waitForSent(c.openid, 1, 15_000);
  t.same(texts(c.openid), ['sent, then the agent tidied up'], "read from the customer's side, which the relay never deletes");
});

t.test('a sweep far behind looks back 48 hours at most: an older reply is never delivered', async (t) => {
  const c = await customer();
  const redis = new Redis(relay.redisUrl);
  t.teardown(() => redis.disconnect());
  const keys = stateKeys(relay.env['QUEUE_PREFIX']!);
  // A reply sent 60 hours ago that no callback brought; its customer wrote again just now.
  const old = Date.now() - 60 * 3600_000;
  im.messages.push({
    from: c.agent,
    to: c.userId,
    msgSeq: 9,
    msgRandom: 9,
    body: [textElem('sixty hours ago')],
    receivedAt: old,
    msgKey: `old_${old}`,
  });
  // This instance's timed sweeps stop; one is run by hand, from 72 hours back.
  await relay.callback.sweep.stop();
  await redis.hset(keys.callbackSweep, 'cursor', Date.now() - 72 * 3600_000);
  t.equal(await relay.callback.sweep.runIfDue(), 0, 'swept, nothing found');
  t.same(await relay.callback.queue.getJob(replyJobId(`old_${old}`)), undefined, 'not stored');
});
