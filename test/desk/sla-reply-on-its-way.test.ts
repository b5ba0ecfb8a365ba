import { textElem } from '@wxim/im';
import { keyPrefix } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { Redis } from 'ioredis';
import t from 'tap';
import { eventually, textOf, twoWayForTests } from '@wxim/testkit';

// FIRST_RESPONSE_SLA_S 10 and REPLY_UNDO_MS 8 s: an agent who answers 5 s after the customer's
// message answered in time, though the reply reaches WeChat only 13 s after it (it waits for its
// undo time). The check at the deadline sees the reply on its way and does not move the customer.
const SLA_S = 10;
const UNDO_MS = 8000;
const relay = await twoWayForTests(t, {
  env: { FIRST_RESPONSE_SLA_S: String(SLA_S), REPLY_UNDO_MS: String(UNDO_MS) },
  pusher: { firstResponseCheckEveryMs: 200 },
});
const { im } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const keys = stateKeys(keyPrefix(relay.env['QUEUE_PREFIX']!, false));

t.test('a customer whose agent answered in time is not moved while the answer waits for its undo time', async (t) => {
  const c = await relay.newCustomer();
  let since: string | null = null;
  await eventually('the customer waits for an answer', async () => (since = await redis.zscore(keys.deskUnanswered, c.openid)) !== null);
  const deadline = Number(since) + SLA_S * 1000;
  // Answered at about half the time allowed, due to reach WeChat after the deadline.
  await new Promise((r) => setTimeout(r, Math.max(0, deadline - SLA_S * 500 - Date.now())));
  await im.agentSend(c.agent, c.userId, [textElem('Here is your answer.')]);
  const sent = await relay.waitForSent(c.openid, 1, 30_000);
  t.ok(sent[0]!.receivedAt > deadline, `the answer reached WeChat after the deadline (${sent[0]!.receivedAt - deadline} ms past it)`);
  t.same(relay.textsTo(c.openid), ['Here is your answer.'], 'the customer has it');
  t.equal(await redis.hget(keys.customer(c.openid), 'agent'), c.agent, 'and is still with their agent');
  await eventually('the answer clears the wait', async () => (await redis.zscore(keys.deskUnanswered, c.openid)) === null);
  t.same(
    im
      .messagesBetween(c.userId, c.agent)
      .filter((m) => m.cloudCustomData?.includes('relay-notice'))
      .map(textOf),
    [],
    'nobody was told of a move',
  );
});
