import { textElem } from '@wxim/im';
import { keyPrefix } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import t from 'tap';
import { AGENTS, eventually, textOf, twoWayForTests } from '@wxim/testkit';

// IM drops a repeat of (sender, MsgSeq, MsgRandom, content) for 120 s whoever it is sent to. A
// customer's message whose send reached their agent but whose answer was lost is retried; if the
// customer was handed on meanwhile, the retry goes to the new agent, and must not be dropped there
// as a repeat of the copy the old agent got.
// Retries wait a minute here: the test brings the retry on once the customer has been handed on.
const relay = await twoWayForTests(t, { worker: { backoffBaseMs: 60_000 } });
const { im, wechat } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const keys = stateKeys(keyPrefix(relay.env['QUEUE_PREFIX']!, false));

t.test('a message whose answer was lost reaches the agent the customer was handed on to before its retry, once', async (t) => {
  const { openid, agent, userId } = await relay.newCustomer();
  const next = AGENTS.find((a) => a !== agent)!;
  const text = 'please help with my order';
  const copies = (to: string) => im.messagesBetween(userId, to).filter((m) => m.from === userId && textOf(m) === text).length;
  im.failNext('openim/sendmsg', 'lost', 1); // IM takes it; its answer never comes back
  t.equal((await wechat.push(wechat.text(openid, text))).status, 200);
  let retry: Job | undefined;
  await eventually('the first agent has it, and its job waits for a retry', async () => {
    retry = (await relay.worker.queue.getJobs(['delayed'])).find((j) => j.attemptsMade >= 1);
    return copies(agent) === 1 && retry !== undefined;
  });
  await im.agentSend(agent, userId, [textElem(`/transfer ${next}`)]);
  await eventually('the customer is handed on', async () => (await redis.hget(keys.customer(openid), 'agent')) === next);
  await retry!.promote();
  await eventually('the new agent has it', () => copies(next) === 1);
  await eventually('its job is done', async () => (await relay.worker.queue.getJobs(['delayed', 'wait', 'active'])).length === 0);
  t.equal(copies(next), 1, 'the new agent has it once');
  t.equal(copies(agent), 1, 'the first agent still once');
  const metrics = (await relay.worker.app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /^wxim_im_handed_on_retries_total 1$/m, 'counted: the first agent may hold it too');
});
