import { decodeRelayCustomData, textElem } from '@wxim/im';
import { keyPrefix } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { fakeOpenId } from '@wxim/sandbox';
import { Redis } from 'ioredis';
import t from 'tap';
import { eventually, twoWayForTests } from '@wxim/testkit';

const relay = await twoWayForTests(t, { env: { WINDOW_WARNING_MS: '0' }, pusher: { windowCheckEveryMs: 200 } });
const { im, wechat } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const keys = stateKeys(keyPrefix(relay.env['QUEUE_PREFIX']!, false));
const reasons = (userId: string, agent: string) =>
  im
    .messagesBetween(userId, agent)
    .map((m) => decodeRelayCustomData(m.cloudCustomData))
    .flatMap((d) => (d?.source === 'relay-notice' ? [d.reason] : []));

t.test('WINDOW_WARNING_MS=0: no warning even as the window closes unanswered; the last-reply notice still comes', async (t) => {
  // A message WeChat pushed late (written 48 h less 4 s ago): its window closes in 4 s, unanswered.
  const closing = { ...wechat.text(fakeOpenId(), 'written long ago'), createTime: Math.floor(Date.now() / 1000) - 48 * 3600 + 4 };
  t.equal((await wechat.push(closing)).status, 200);
  await eventually('it reaches an agent', () => im.messages.some((m) => m.cloudCustomData?.includes(closing.fromUserName)));
  const first = im.messages.find((m) => m.cloudCustomData?.includes(closing.fromUserName))!;
  await new Promise((r) => setTimeout(r, 6000));
  t.same(reasons(first.from, first.to), [], 'nobody warned');
  t.equal(await redis.exists(keys.windowWatch), 0, 'nothing watched');

  const c = await relay.newCustomer();
  for (let i = 1; i <= 5; i++) await im.agentSend(c.agent, c.userId, [textElem(`reply ${i}`)]);
  await relay.waitForSent(c.openid, 5);
  await eventually('told of the last reply', () => reasons(c.userId, c.agent).includes('window-last-reply'));
});
