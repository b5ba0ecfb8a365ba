import { decodeRelayCustomData } from '@wxim/im';
import { keyPrefix } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { eventually, textOf, twoWayForTests } from '@wxim/testkit';
import { Redis } from 'ioredis';
import t from 'tap';

// A pusher that stops while a periodic check is mid-step (a closing-window warning sent to IM, its
// answer not back yet): the worker stops at once, and the pusher's close waits for that step, its
// answer read and its mark written, before IM's client and Redis go. Otherwise the warning's mark
// would be lost and the warning counted as failed, to be sent again by another pusher.
const LEAD_MS = 1500;
const ANSWER_LATE_MS = 1500;
const relay = await twoWayForTests(t, { env: { WINDOW_WARNING_MS: String(48 * 3_600_000 - LEAD_MS) }, pusher: { windowCheckEveryMs: 100 } });
const { im } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const keys = stateKeys(keyPrefix(relay.env['QUEUE_PREFIX']!, false));

t.test("a pusher closed while a check's warning waits for IM's answer: the close waits for it, and its mark is written", async (t) => {
  const c = await relay.newCustomer();
  t.not(await redis.zscore(keys.windowWatch, c.openid), null, "the customer's window is watched");
  // The next message IM takes is the warning: done at once, answered late.
  im.answerLate('openim/sendmsg', ANSWER_LATE_MS);
  const warning = () =>
    im.messagesBetween(c.userId, c.agent).filter((m) => {
      const data = decodeRelayCustomData(m.cloudCustomData);
      return data?.source === 'relay-notice' && data.reason === 'window-closing';
    });
  await eventually('the warning reached IM, its answer on its way', () => warning().length === 1, LEAD_MS + 5000, 10);
  const asked = Date.now();
  await relay.pusher.close();
  const took = Date.now() - asked;
  // IM took the warning at receivedAt and answered ANSWER_LATE_MS later: the close ended after that.
  const answeredAt = warning()[0]!.receivedAt + ANSWER_LATE_MS;
  t.ok(Date.now() >= answeredAt - 50 && took < ANSWER_LATE_MS + 5000, `closed in ${took} ms: after IM's answer came`);
  t.equal(await redis.zscore(keys.windowWatch, c.openid), null, 'the warning is marked: no longer watched, not sent again');
  t.match(textOf(warning()[0]!), /still unanswered/);
  t.equal(warning().length, 1, 'sent once');
});
