import { textElem } from '@wxim/im';
import { fakeOpenId } from '@wxim/sandbox';
import { startTestRedis, startTwoWay } from '@wxim/testkit';
import t from 'tap';

const redis = await startTestRedis({ own: true });
const relay = await startTwoWay(redis.url, { callback: { heartbeatMs: 100, enqueueTimeoutMs: 500 } });
t.teardown(async () => {
  redis.resume();
  await relay.close();
  await redis.close();
});
const { im, wechatApi } = relay;

t.test('with Redis frozen a callback is answered with an error, never OK; once Redis is back the reply is found in the history', async (t) => {
  const openid = fakeOpenId();
  const agent = await relay.customerWrites(openid, 'hello');
  const userId = im.messages.find((m) => m.cloudCustomData?.includes(openid))!.from;

  redis.pause();
  const sent = await im.agentSend(agent, userId, [textElem('sent while Redis was frozen')]);
  const record = im.callbacks.at(-1)!;
  redis.resume();
  t.notOk(sent.delivered, 'IM did not get OK');
  t.not(record.outcome, 'ok');
  t.match(record, { status: 503, answer: { ActionStatus: 'FAIL' } }, 'an IM-style error answer within the budget');

  const [delivered] = await relay.waitForSent(openid, 1, 20_000);
  t.match(delivered, { payload: { content: 'sent while Redis was frozen' } }, 'recovered from IM history');
  await relay.callback.recovery.idle();
  t.equal(wechatApi.sentTo(openid).length, 1, 'once');
});
