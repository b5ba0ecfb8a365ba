import { textElem } from '@wxim/im';
import { keyPrefix } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { Redis } from 'ioredis';
import t from 'tap';
import { AGENTS, eventually, textOf, twoWayForTests } from '@wxim/testkit';

// A long reply goes in parts. If the customer is handed on to another agent (FIRST_RESPONSE_SLA_S
// moves an unanswered customer, outside the reply's line) after its first part went and while the
// next is retried, the reply is still finished: the customer never keeps half of it, and its agent
// is not told it was not delivered.
const relay = await twoWayForTests(t);
const { im, wechatApi } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const keys = stateKeys(keyPrefix(relay.env['QUEUE_PREFIX']!, false));

t.test('a reply whose first part went is finished after its customer is handed on between two attempts', async (t) => {
  const { openid, agent, userId } = await relay.newCustomer();
  const next = AGENTS.find((a) => a !== agent)!;
  const long = `${'a'.repeat(2048)}${'b'.repeat(500)}`; // two parts: WeChat takes 2048 bytes a send
  // The first part is sent (answered a moment late); the second is refused as "system busy" until cleared.
  wechatApi.answerLate('message/custom/send', 10);
  wechatApi.failNext('message/custom/send', -1, 100);
  await im.agentSend(agent, userId, [textElem(long)]);
  await eventually('the first part reached the customer and the second was refused', async () => {
    const jobs = await relay.pusher.queue.getJobs(['delayed', 'wait', 'active']);
    return wechatApi.sentTo(openid).length === 1 && jobs.some((j) => j.attemptsMade >= 1);
  });
  // Handed on as the first-response check hands a customer on: to another agent, the first named as having handed them.
  await redis.hset(keys.customer(openid), 'agent', next, 'handedOn', agent);
  wechatApi.clearScripted();
  const sent = await relay.waitForSent(openid, 2);
  t.equal(sent.map((m) => m.payload['content']).join(''), long, 'the customer has the whole reply, in order, each part once');
  // A notice would have been sent before the job ended; the job ends as the second part went.
  await eventually('the reply is done', async () => (await relay.pusher.queue.getJobs(['delayed', 'wait', 'active'])).length === 0);
  t.same(
    im
      .messagesBetween(userId, agent)
      .filter((m) => m.cloudCustomData?.includes('relay-notice'))
      .map(textOf),
    [],
    'its agent is not told it was not delivered',
  );
  t.equal(wechatApi.sentTo(openid).length, 2, 'nothing more');
});
