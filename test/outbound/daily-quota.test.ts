import { textElem } from '@wxim/im';
import { replyJobId } from '@wxim/queue';
import { eventually, metricLines, textOf, twoWayForTests } from '@wxim/testkit';
import t from 'tap';

// WeChat's daily quota of customer-service messages used up (45009): each reply waits at the head
// of its customer's line, no attempt spent, and the pusher leaves the API alone until one call
// tries it again (5 minutes in production, 3 s here), while the queue's other jobs go on: an
// agent's command to another customer is answered at once (it calls no WeChat API).
const LOOK_AGAIN_MS = 3000;
const relay = await twoWayForTests(t, { env: { LOG_LEVEL: process.env['DBG'] ? 'debug' : 'silent' }, pusher: { quotaLookAgainMs: LOOK_AGAIN_MS } });
const { im, wechatApi } = relay;
const { queue } = relay.pusher;

/** The pusher's `wxim_wechat_quota_used_up` lines. */
const quotaLines = () => metricLines(relay.pusher.app, 'wxim_wechat_quota_used_up');
const sendCalls = () => wechatApi.stats.calls['message/custom/send'] ?? 0;

t.test("replies over WeChat's daily quota wait, no attempt spent, while other customers' commands go on; they go once the quota is back", async (t) => {
  const a = await relay.newCustomer();
  const b = await relay.newCustomer();
  const c = await relay.newCustomer();
  t.teardown(() => wechatApi.clearScripted());
  wechatApi.failNext('message/custom/send', 45009, 10_000, 'reach max api daily quota limit');
  const first = await im.agentSend(a.agent, a.userId, [textElem('first')]);
  await eventually('the quota shows used up', async () => (await quotaLines()).length > 0, 15_000);
  t.same(await quotaLines(), ['wxim_wechat_quota_used_up{api="message/custom/send"} 1']);
  await im.agentSend(a.agent, a.userId, [textElem('second')]);
  const toB = await im.agentSend(b.agent, b.userId, [textElem('to b')]);
  // Not held by the quota: /help answers the agent in IM (before, the whole queue waited until midnight).
  await im.agentSend(c.agent, c.userId, [textElem('/help')]);
  await eventually(
    "C's agent has the command's answer",
    () => im.messagesBetween(c.userId, c.agent).some((m) => m.cloudCustomData?.includes('relay-notice') && /Relay commands/.test(textOf(m))),
    10_000,
  );
  await eventually("B's reply waits too", async () => (await (await queue.getJob(replyJobId(toB.msgKey)))?.isDelayed()) === true, 10_000);
  const firstJob = await queue.getJob(replyJobId(first.msgKey));
  // Delayed, or (its 3 s over on a slow machine) the one call looking again, refused.
  t.match(await firstJob!.getState(), /^(delayed|active|waiting)$/, 'the first reply waits at the head of its line');
  t.equal(firstJob!.attemptsMade, 0, 'no attempt spent');
  t.same([relay.textsTo(a.openid), relay.textsTo(b.openid)], [[], []], 'nothing delivered while the quota is used up');
  const refused = sendCalls();

  wechatApi.clearScripted(); // the quota is back (the next day, or an operator's clear_quota)
  await relay.waitForSent(a.openid, 2, LOOK_AGAIN_MS + 10_000);
  await relay.waitForSent(b.openid, 1, 10_000);
  t.same(relay.textsTo(a.openid), ['first', 'second'], "delivered once each, in the agent's order");
  t.same(relay.textsTo(b.openid), ['to b']);
  t.equal(sendCalls() - refused, 3, 'one call a reply once the quota is back');
  const done = await queue.getJob(replyJobId(first.msgKey));
  t.equal(done!.attemptsMade, 1, 'the delivering attempt is its only one');
  t.same(await quotaLines(), [], 'the quota no longer shows used up');
});
