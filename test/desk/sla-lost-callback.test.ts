import { textElem } from '@wxim/im';
import { keyPrefix } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { Redis } from 'ioredis';
import t from 'tap';
import { eventually, textOf, twoWayForTests } from '@wxim/testkit';

// FIRST_RESPONSE_SLA_S 10. The agent answers in time, but IM's callback for the answer is lost (an
// ingress 502, a cut network): at the deadline nothing shows an answer, and the customer is moved
// to another agent. The sweep finds the answer afterwards (here: forced, as if an hour had passed):
// sent before the move, it is still its agent's, and reaches the customer.
const relay = await twoWayForTests(t, {
  env: { FIRST_RESPONSE_SLA_S: '10', CALLBACK_SWEEP_MS: '3600000' },
  callback: { sweepSettleMs: 300 },
  pusher: { firstResponseCheckEveryMs: 200 },
});
const { im } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const keys = stateKeys(keyPrefix(relay.env['QUEUE_PREFIX']!, false));

t.test('an answer sent in time whose callback was lost is delivered when the sweep finds it, though the customer was moved meanwhile', async (t) => {
  const c = await relay.newCustomer();
  await relay.callback.sweep.runIfDue(); // the sweeps' cursor starts here, before the answer
  im.callbackLost(1);
  await im.agentSend(c.agent, c.userId, [textElem('Answered in time.')]);
  t.same(
    im.callbacks.slice(-1).map((cb) => cb.outcome),
    ['lost'],
  );
  await eventually('the customer is moved at the deadline', async () => (await redis.hget(keys.customer(c.openid), 'agent')) !== c.agent, 30_000);
  // A reply the old agent sends once the move's margin is past (IM's callback budget, whole
  // seconds of IM's clock) is theirs no more.
  const keptBefore = Number((await redis.hget(keys.customer(c.openid), 'handedOnAt'))?.split('=')[1]);
  t.ok(keptBefore > 0, 'the move keeps the replies IM dates before it');
  await eventually('past the margin', () => Date.now() >= keptBefore + 1100, 10_000, 50);
  await im.agentSend(c.agent, c.userId, [textElem('Sent after the move.')]);
  const found = await relay.callback.sweep.runIfDue(Date.now() + 2 * 3_600_000);
  t.equal(found, 1, 'the sweep finds the answer');
  await relay.waitForSent(c.openid, 1, 15_000);
  t.same(relay.textsTo(c.openid), ['Answered in time.'], 'the customer has the answer sent in time, and only that one');
  const notices = () =>
    im
      .messagesBetween(c.userId, c.agent)
      .filter((m) => m.cloudCustomData?.includes('relay-notice'))
      .map(textOf);
  await eventually('the reply after the move comes back to its agent', () => notices().some((n) => n.includes('Sent after the move')));
  t.notOk(
    notices().some((n) => n.includes('Answered in time')),
    'its agent is not told the answer sent in time went nowhere',
  );
});
