import { fakeOpenId } from '@wxim/sandbox';
import t from 'tap';
import { relayForTests, textOf } from '@wxim/testkit';

// IM's duplicate window shortened from 120 s to 500 ms on both sides, so the test runs in a second.
const relay = await relayForTests(t, { sim: { dedupeWindowMs: 500 }, worker: { imDuplicateWindowMs: 500 } });

t.test('a resend after IM’s duplicate window first looks in the history: delivered once', async (t) => {
  const { wechat, im } = relay;
  const openid = fakeOpenId();
  await wechat.push(wechat.text(openid, 'warm up'));
  await relay.waitForMessages(1);
  // The first attempt is delivered but its answer is lost; IM is then busy until the window has passed.
  im.failNext('openim/sendmsg', 'lost');
  im.failNext('openim/sendmsg', 90994, 4);
  const push = wechat.text(openid, 'delivered, answer lost');
  t.equal((await wechat.push(push)).status, 200);
  const jobId = `m-${openid}-${push.kind === 'text' ? push.msgId : ''}`;
  const queue = relay.gateway.gateway.queue;
  for (let i = 0; i < 400 && (await (await queue.getJob(jobId))?.getState()) !== 'completed'; i++) await new Promise((r) => setTimeout(r, 25));
  const job = await queue.getJob(jobId);
  t.equal(await job?.getState(), 'completed');
  t.ok(job!.attemptsMade >= 3, `lost, busy until the window passed, then the look in the history (${job!.attemptsMade} attempts)`);
  im.clearScripted();
  t.same(im.messagesBetween(openid).map(textOf), ['warm up', 'delivered, answer lost'], 'exactly once');
  t.equal(im.stats.duplicatesDropped, 0, 'IM had nothing to absorb: the relay did not resend');
});

t.test('without an earlier delivery, the late attempt sends', async (t) => {
  const { wechat, im } = relay;
  const openid = fakeOpenId();
  im.failNext('openim/sendmsg', 90994, 5);
  await wechat.push(wechat.text(openid, 'busy for a while'));
  await relay.waitForMessages(3, 10_000);
  t.same(im.messagesBetween(openid).map(textOf), ['busy for a while']);
});
