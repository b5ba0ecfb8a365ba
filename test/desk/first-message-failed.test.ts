import { fakeOpenId } from '@wxim/sandbox';
import { keyPrefix } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { AGENTS, eventually, startTestRedis, deskRelayForTests } from '@wxim/testkit';

// A conversation's first message that fails for good (here IM refuses it: 80001, content
// security) never reached its agent, and nothing later of the customer's did (it waits behind it
// in their line). The place it took is freed at once, and the customer waiting for it goes to the
// agent, rather than the place being held for CLOSE_AFTER_IDLE (48 hours). A conversation whose
// first message did reach the agent keeps its place whatever fails later.
const redis = await startTestRedis();
const state = new Redis(redis.url);
t.teardown(async () => {
  state.disconnect();
  await redis.close();
});

/** Far longer than the test: only the freed place's wake can bring the waiting customer in. */
const LOOK_AGAIN_MS = 60_000;

/** A desk of one agent online (the others logged out) with room for one conversation. */
async function oneAgentOnePlace(t: Test) {
  const relay = await deskRelayForTests(t, redis.url, { env: { AGENT_MAX_OPEN: '1' }, worker: { waitMs: LOOK_AGAIN_MS } });
  for (const other of AGENTS.slice(1)) await relay.im.agentLogout(other);
  return { relay, im: relay.im, wechat: relay.wechat, keys: stateKeys(keyPrefix(relay.env['QUEUE_PREFIX']!, false)), agent: AGENTS[0]! };
}

t.test("a conversation whose first message fails for good frees its agent's place, and the customer waiting gets it", async (t) => {
  const { relay, im, wechat, keys, agent } = await oneAgentOnePlace(t);

  // IM busy at first (90994, tried again), so the conversation holds the only place while the next customer comes.
  const refused = fakeOpenId();
  im.sendRefused.set(refused, 90994);
  await wechat.push(wechat.text(refused, 'something IM refuses'));
  await eventually('the refused conversation holds the only place', async () => (await state.zscore(keys.agentLoad, agent)) === '1');
  const waiting = fakeOpenId();
  await wechat.push(wechat.text(waiting, 'I wait for an agent'));
  await eventually('the next customer waits for an agent', async () => (await state.zscore(keys.deskWaiting, waiting)) !== null);
  // Then IM refuses the message for good at its next attempt.
  im.sendRefused.set(refused, 80001);

  await eventually('the refused message failed for good', async () => (await relay.worker.queue.getFailedCount()) === 1, 20_000);
  await eventually('the waiting customer reaches the agent', () => im.messagesBetween(waiting).length === 1, 20_000);
  t.equal(im.messagesBetween(waiting)[0]!.to, agent);
  t.equal(await state.zscore(keys.deskActive, refused), null, 'the refused conversation is closed');
  t.equal(await state.zscore(keys.agentLoad, agent), '1', 'the agent holds one place: the customer who waited');
  t.equal(im.messagesBetween(refused).length, 0, 'nothing of the refused customer reached the agent');
});

t.test('a conversation whose first message reached the agent keeps its place when a later one fails for good', async (t) => {
  const { relay, im, wechat, keys, agent } = await oneAgentOnePlace(t);

  const openid = fakeOpenId();
  await wechat.push(wechat.text(openid, 'hello'));
  await eventually('the first message reaches the agent', () => im.messagesBetween(openid).length === 1, 20_000);
  im.sendRefused.set(openid, 80001);
  await wechat.push(wechat.text(openid, 'something IM refuses'));
  await eventually('the second message failed for good', async () => (await relay.worker.queue.getFailedCount()) === 1, 20_000);
  t.not(await state.zscore(keys.deskActive, openid), null, 'the conversation stays open');
  t.equal(await state.zscore(keys.agentLoad, agent), '1', 'its place is kept');
  t.equal(await state.hget(keys.customer(openid), 'agent'), agent);
});
