import { textElem } from '@wxim/im';
import { fakeOpenId } from '@wxim/sandbox';
import { metricValue, startTestRedis, startTwoWay } from '@wxim/testkit';
import t from 'tap';

// A Redis of our own with AOF (fsync always), which this test kills and starts again. IM does not
// send an after-send callback again: one refused while Redis restarts is left to the look through
// IM's history, which comes later than the agent's next reply. im-callback keeps trying within its
// budget instead, so the reply is stored as it comes, before the next.
const redis = await startTestRedis({ own: true, appendonly: true });
const relay = await startTwoWay(redis.url);
t.teardown(async () => {
  await relay.close();
  await redis.close();
});
const { im, wechatApi } = relay;

t.test('a reply whose callback comes while Redis restarts is stored once Redis is back, not refused, and goes before the next', async (t) => {
  const openid = fakeOpenId();
  const agent = await relay.customerWrites(openid, 'hello');
  const userId = im.messages.find((m) => m.cloudCustomData?.includes(openid))!.from;

  const retries = (what = 'reply') => metricValue(relay.callback.app, `wxim_callback_store_retries_total{what="${what}"}`);
  t.equal(await retries(), 0, 'none before');
  await redis.stop(); // SIGKILL
  // Back after 0.6 s, within IM's budget: the connection, made again every 100 ms meanwhile, is
  // back in time for the store's last try (a backoff of 0.2, 0.4, 0.8 s would try at 1.4 s only).
  const back = (async () => {
    await new Promise((r) => setTimeout(r, 600));
    await redis.start();
  })();
  const first = await im.agentSend(agent, userId, [textElem('sent while Redis restarted')]);
  const record = im.callbacks.at(-1)!;
  await back;
  t.ok(first.delivered, 'IM got OK');
  t.match(record, { status: 200 }, 'the callback was answered 200: the reply stored');
  t.ok((await retries())! > 0, 'the tries again are counted');
  t.equal(await retries('signal'), 0, "as a reply's, not as an agent's typing or recall");
  const second = await im.agentSend(agent, userId, [textElem('sent after')]);
  t.ok(second.delivered);
  const sent = await relay.waitForSent(openid, 2, 20_000);
  t.same(
    sent.map((m) => m.payload['content']),
    ['sent while Redis restarted', 'sent after'],
    'both delivered, in the order they were sent',
  );
  await relay.callback.recovery.idle();
  t.equal(wechatApi.sentTo(openid).length, 2, 'each once');
});
