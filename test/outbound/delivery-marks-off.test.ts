import { textElem } from '@wxim/im';
import { replyJobId } from '@wxim/im-callback';
import { eventually, twoWayForTests } from '@wxim/testkit';
import { Redis } from 'ioredis';
import t from 'tap';

const relay = await twoWayForTests(t, { env: { DELIVERY_MARKS: 'off', CALLBACK_SWEEP_MS: '0', LOG_LEVEL: 'silent' } });
const { im } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());

t.test('with DELIVERY_MARKS=off no reply is marked: delivered or refused, IM gets no modify call', async (t) => {
  const c = await relay.newCustomer();
  const s = await im.agentSend(c.agent, c.userId, [textElem('delivered, unmarked')], { cloudCustomData: '{"own":1}' });
  await relay.waitForSent(c.openid, 1);
  const refused = await relay.newCustomer();
  await redis.hset(`${relay.env['QUEUE_PREFIX']!}:reply-window:${refused.openid}`, 'deadline', String(Date.now() - 1000));
  const late = await im.agentSend(refused.agent, refused.userId, [textElem('too late')]);
  await eventually('the notice reaches the agent', () =>
    im.messagesBetween(refused.userId, refused.agent).some((m) => m.cloudCustomData?.includes('relay-notice')),
  );
  // A mark is made inside its reply's job, before the job ends: once both jobs ended, none can follow.
  const ended = async (msgKey: string) => {
    const job = await relay.pusher.queue.getJob(replyJobId(msgKey));
    return job === undefined || ['completed', 'failed'].includes(await job.getState());
  };
  await eventually('both jobs ended', async () => (await ended(s.msgKey)) && (await ended(late.msgKey)));
  t.equal(im.stats.modified, 0);
  t.same(im.modifications, []);
  t.equal(im.callsPerSecond()['openim/modify_c2c_msg'], undefined, 'no modify_c2c_msg call at all, not even a refused one');
  t.equal(im.messages.find((m) => m.msgKey === s.msgKey)?.cloudCustomData, '{"own":1}', 'as the client wrote it');
});
