import { textElem } from '@wxim/im';
import { keyPrefix } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { Redis } from 'ioredis';
import t from 'tap';
import { AGENTS, eventually, textOf, twoWayForTests } from '@wxim/testkit';

// A customer's video is on its way to their agent (its media fetched from WeChat, slowly) when the
// agent hands the customer on with /transfer: the video goes to the new agent, never to the one
// who let the customer go (who could not answer it, and whose colleague would never see it).
const relay = await twoWayForTests(t, {
  env: { MEDIA_PUBLIC_URL: 'https://relay.example.test', MEDIA_URL_SECRET: 'handed-on-in-flight-test-secret-0123456789' },
});
const { im, wechatApi, wechat } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const keys = stateKeys(keyPrefix(relay.env['QUEUE_PREFIX']!, false));

t.test('a message whose relay began before a /transfer reaches the new agent, not the old one', async (t) => {
  const c = await relay.newCustomer();
  const next = AGENTS.find((a) => a !== c.agent)!;
  const calls = wechatApi.stats.calls['media/get'] ?? 0;
  // WeChat answers the media downloads 3 s late: the relay has taken its turn (and its agent) by then.
  wechatApi.answerLate('media/get', 3000, 2);
  t.teardown(() => wechatApi.clearScripted());
  t.equal((await wechat.push(wechat.video(c.openid))).status, 200);
  await eventually('the video is being fetched', () => (wechatApi.stats.calls['media/get'] ?? 0) > calls);
  await im.agentSend(c.agent, c.userId, [textElem(`/transfer ${next}`)]);
  await eventually('the customer is handed on', async () => (await redis.hget(keys.customer(c.openid), 'agent')) === next);
  const isVideo = (m: { body: { MsgType: string }[]; cloudCustomData?: string }) =>
    !m.cloudCustomData?.includes('relay-notice') && m.body.some((b) => b.MsgType === 'TIMVideoFileElem');
  await eventually('the video reaches the new agent', () => im.messagesBetween(c.userId, next).some(isVideo), 15_000);
  t.same(
    im
      .messagesBetween(c.userId, c.agent)
      .filter((m) => m.from === c.userId && !m.cloudCustomData?.includes('relay-notice'))
      .map(textOf),
    ['hello'],
    'the old agent has only what came before the transfer',
  );
  t.equal(im.messagesBetween(c.userId, next).filter(isVideo).length, 1, 'the new agent has it once');
  const metrics = (await relay.worker.app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /^wxim_im_handed_on_retries_total 0$/m, 'not counted as a retry the old agent may hold: nothing was sent to them');
});
