import { textElem } from '@wxim/im';
import { replyJobId } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { eventually, metricValue, twoWayForTests } from '@wxim/testkit';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';

// IM calls back for each message the agent sends with a request of its own: for two quick
// messages the second's callback may reach the relay first (two im-callbacks, a slow connection).
// The customer still gets them in the agent's order, as IM's history holds it. No sweeps: a lost
// callback stays lost here. A reply waits 3 s for a message not stored yet; where the test holds
// that message's callback itself, 20 s, so that a stalled machine does not decide the order.
const ORDER_WAIT_MS = 3000;

async function relayOf(t: Test, env: Record<string, string> = {}, orderWaitMs?: number) {
  const relay = await twoWayForTests(t, {
    env: { CALLBACK_SWEEP_MS: '0', LOG_LEVEL: 'silent', ...env },
    ...(orderWaitMs === undefined ? {} : { pusher: { orderWaitMs } }),
  });
  const redis = new Redis(relay.redisUrl);
  t.teardown(() => redis.disconnect());
  const keys = stateKeys(relay.env['QUEUE_PREFIX']!);
  const stepsAside = async (msgKey: string) => (await (await relay.pusher.queue.getJob(replyJobId(msgKey)))?.isDelayed()) === true;
  /** Whether a reply keeps a place ahead of itself for the message with this MsgKey. */
  const placeKept = async (openid: string, msgKey: string) => (await redis.hexists(keys.lineAhead('agent-replies', openid), replyJobId(msgKey))) === 1;
  /** The pusher's count of the agent's messages `moved` ahead of a later reply, or `gave_up` on. */
  const reordered = async (outcome: 'moved' | 'gave_up') => Number(await metricValue(relay.pusher.app, `wxim_pusher_reply_order_total{outcome="${outcome}"}`));
  return { relay, redis, keys, stepsAside, placeKept, reordered };
}

t.test("a reply whose callback overtook the agent's message before it waits for that message, which goes first", async (t) => {
  const { relay, placeKept, reordered } = await relayOf(t, {}, 20_000);
  const { openid, userId, agent } = await relay.newCustomer();
  const release = relay.im.callbackHeld();
  t.teardown(release); // a failure below must not leave it held
  const first = relay.im.agentSend(agent, userId, [textElem('first')]);
  await relay.im.agentSend(agent, userId, [textElem('second')]);
  // The second is stored, confirmed in IM's history (which shows the first before it), and waits.
  const firstKey = relay.im.messages.find((m) => m.body[0]?.MsgContent['Text'] === 'first')!.msgKey;
  await eventually('the second reply keeps a place ahead for the first', () => placeKept(openid, firstKey), 10_000, 20);
  t.same(relay.textsTo(openid), [], 'nothing delivered while the first is missing');
  release();
  t.ok((await first).delivered, "the first's callback came, late");
  await relay.waitForSent(openid, 2);
  t.same(relay.textsTo(openid), ['first', 'second'], "delivered in the agent's order");
  t.same([await reordered('moved'), await reordered('gave_up')], [0, 0], 'its kept place taken: counted as neither');
});

t.test('a reply whose earlier message never comes goes on its own once that callback is past IM’s budget', async (t) => {
  const { relay, redis, keys, reordered } = await relayOf(t);
  const { openid, userId, agent } = await relay.newCustomer();
  relay.im.callbackLost(1);
  await relay.im.agentSend(agent, userId, [textElem('lost')]);
  const sentAt = Date.now();
  await relay.im.agentSend(agent, userId, [textElem('after it')]);
  await relay.waitForSent(openid, 1, 15_000);
  const waited = Date.now() - sentAt;
  t.ok(waited >= ORDER_WAIT_MS - 200, `it waited for the lost one first (${waited} ms)`);
  t.same(relay.textsTo(openid), ['after it'], 'delivered, without the lost one');
  t.equal(await redis.exists(keys.lineAhead('agent-replies', openid)), 0, 'no place kept for the lost one: found later, it joins the end of the line');
  t.equal(await reordered('gave_up'), 1, 'counted: one message the reply went ahead of');
  t.equal(await reordered('moved'), 0);
});

t.test("a reply held for its undo time moves behind the agent's message stored behind it meanwhile, past the 3 s too", async (t) => {
  // Held longer than a reply waits for a message not stored yet: one stored is waited for however long.
  const { relay, stepsAside, reordered } = await relayOf(t, { REPLY_UNDO_MS: '4000' });
  const { openid, userId, agent } = await relay.newCustomer();
  const release = relay.im.callbackHeld();
  t.teardown(release); // a failure below must not leave it held
  const first = relay.im.agentSend(agent, userId, [textElem('first')]);
  const second = await relay.im.agentSend(agent, userId, [textElem('second')]);
  // The second waits its undo time at the head of the line; the first's callback comes meanwhile.
  await eventually('the second reply waits for its undo time', () => stepsAside(second.msgKey), 10_000, 20);
  release();
  t.ok((await first).delivered, "the first's callback came, behind the second");
  await relay.waitForSent(openid, 2, 15_000);
  t.same(relay.textsTo(openid), ['first', 'second'], "delivered in the agent's order");
  t.equal(await reordered('moved'), 1, 'counted: one message put ahead of the reply');
  t.equal(await reordered('gave_up'), 0);
});

t.test("replies waiting behind another, confirmed by its look, still wait for the agent's message before them", async (t) => {
  const { relay, placeKept } = await relayOf(t, {}, 20_000);
  const { openid, userId, agent } = await relay.newCustomer();
  await relay.pusher.worker.pause(); // the replies pile up, as behind a slow one
  await relay.im.agentSend(agent, userId, [textElem('zero')]);
  const release = relay.im.callbackHeld();
  t.teardown(release);
  const first = relay.im.agentSend(agent, userId, [textElem('first')]);
  await relay.im.agentSend(agent, userId, [textElem('second')]);
  await relay.pusher.worker.resume();
  // 'zero' looks at the history for all three; 'second' is confirmed by what that look kept, and keeps a place for 'first'.
  const firstKey = relay.im.messages.find((m) => m.body[0]?.MsgContent['Text'] === 'first')!.msgKey;
  await eventually('the second reply keeps a place ahead for the first', () => placeKept(openid, firstKey), 10_000, 20);
  t.same(relay.textsTo(openid), ['zero'], 'the first reply went; the second waits');
  release();
  t.ok((await first).delivered);
  await relay.waitForSent(openid, 3);
  t.same(relay.textsTo(openid), ['zero', 'first', 'second'], "delivered in the agent's order");
});
