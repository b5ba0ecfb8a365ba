import { callbackSign, textElem } from '@wxim/im';
import { type ReplyJob, replyJobId, retryFailedJobs, signalJobId } from '@wxim/queue';
import type { ReceivedMessage } from '@wxim/sandbox';
import { stateKeys } from '@wxim/state';
import { CALLBACK_TOKEN, IM_APP_ID, eventually, metricLines, metricValue, twoWayForTests } from '@wxim/testkit';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { request } from 'undici';

// Long enough that a recall sent at once lands well inside it on a busy machine. Retries wait
// about 2 s (±25%): a reply retried once goes well after a later reply's own undo time is over.
const UNDO_MS = 4000;
const relay = await twoWayForTests(t, {
  env: { REPLY_UNDO_MS: String(UNDO_MS), LOG_LEVEL: process.env['DBG'] ? 'debug' : 'silent' },
  pusher: { backoffBaseMs: 2000 },
});
const { im, wechatApi } = relay;
const { queue } = relay.pusher;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const keys = stateKeys(relay.env['QUEUE_PREFIX']!);

function noticesTo(agent: string, userId: string): ReceivedMessage[] {
  return im.messages.filter((m) => m.from === userId && m.to === agent && m.cloudCustomData?.includes('relay-notice'));
}

async function noticeText(agent: string, userId: string): Promise<string> {
  await eventually('a notice reaches the agent', () => noticesTo(agent, userId).length > 0);
  return String(noticesTo(agent, userId)[0]!.body[0]!.MsgContent['Text']);
}

/** The reply's job once it has completed: its outcome. */
async function completedAs(t: Test, msgKey: string): Promise<unknown> {
  await eventually('the reply completes', async () => (await queue.getJob(replyJobId(msgKey)))?.finishedOn !== undefined, 20_000);
  const job = await queue.getJob(replyJobId(msgKey));
  t.ok(await job!.isCompleted(), 'completed, not failed');
  return job!.returnvalue;
}

/**
 * IM's recall callback alone, as IM sends it, without the simulator flagging the message recalled
 * in its history: as when the relay read the history before the recall (a look for an earlier reply
 * keeps what it saw of the later ones), so the history cannot stop the reply.
 */
async function recallCallback(agent: string, userId: string, msgKey: string): Promise<number> {
  const requestTime = String(Math.floor(Date.now() / 1000));
  const command = 'C2C.CallbackAfterMsgWithDraw';
  const q = new URLSearchParams({ SdkAppid: String(IM_APP_ID), CallbackCommand: command, contenttype: 'json', OptPlatform: 'Web', RequestTime: requestTime });
  q.set('Sign', callbackSign(CALLBACK_TOKEN, requestTime));
  const res = await request(`${relay.callbackUrl}?${q.toString()}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ CallbackCommand: command, From_Account: agent, To_Account: userId, MsgKey: msgKey, EventTime: Date.now() }),
  });
  await res.body.dump();
  return res.statusCode;
}

/** What im-callback decided the recall did, as its stored job carries it. */
async function recallDecided(msgKey: string): Promise<ReplyJob['recall']> {
  return (await queue.getJob(signalJobId('recall', msgKey)))?.data.recall;
}

t.test('the delivery time a reply is measured by starts when its undo time is over: the hold is not lateness', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  const fast = 'wxim_pusher_delivery_seconds_bucket{le="2.5"}';
  const count = 'wxim_pusher_delivery_seconds_count';
  const before = (await metricValue(relay.pusher.app, fast)) ?? 0;
  const counted = (await metricValue(relay.pusher.app, count)) ?? 0;
  const sentAt = Date.now();
  await im.agentSend(agent, userId, [textElem('held, then delivered')]);
  await relay.waitForSent(openid, 1, 20_000);
  t.ok(Date.now() - sentAt >= UNDO_MS - 500, 'held for its undo time');
  await eventually('measured', async () => ((await metricValue(relay.pusher.app, count)) ?? 0) === counted + 1);
  t.equal((await metricValue(relay.pusher.app, fast)) ?? 0, before + 1, 'within 2.5 s of when it could go');
});

t.test('a reply recalled within the undo time is not delivered, its agent is told, and the next reply goes after it', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  const oops = await im.agentSend(agent, userId, [textElem('wrong customer, sorry')]);
  await im.agentSend(agent, userId, [textElem('the right answer')]);
  t.ok(await im.agentRecall(agent, userId, oops.msgKey), 'im-callback took the recall');
  t.equal(await recallDecided(oops.msgKey), 'stopped', 'decided when the recall came');
  t.match(await noticeText(agent, userId), /stopped: the customer will not get it/);
  t.same(await completedAs(t, oops.msgKey), { outcome: 'withdrawn' }, 'completed as withdrawn: it can never be sent now');
  await relay.waitForSent(openid, 1, 20_000);
  t.same(relay.textsTo(openid), ['the right answer'], 'only the reply sent after it');
});

t.test('a reply waiting for its undo time, and then for a retry, keeps a later reply behind it', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  // The first reply's first send meets "system busy": its retry comes about 2 s after its undo time,
  // while the second's undo time is over about then. Only the line keeps the second behind it.
  wechatApi.failNext('message/custom/send', -1, 1);
  const sentAt = Date.now();
  await im.agentSend(agent, userId, [textElem('first')]);
  await im.agentSend(agent, userId, [textElem('second')]);
  const sent = await relay.waitForSent(openid, 2, 30_000);
  t.same(
    sent.map((m) => m.payload['content']),
    ['first', 'second'],
    'in the order the agent sent them',
  );
  t.ok(sent[0]!.receivedAt - sentAt >= UNDO_MS + 1000, `the first waited its undo time and a retry (${sent[0]!.receivedAt - sentAt} ms)`);
});

t.test('a recall is decided when it comes: a backlog in the queue cannot let the reply go past its undo time', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  // A backlog: nothing is taken while the reply and the recall are stored, then one job at a time,
  // oldest first — the reply's turn comes, past its undo time, before the recall's.
  const { worker } = relay.pusher;
  const concurrency = worker.concurrency;
  await queue.pause();
  worker.concurrency = 1;
  t.teardown(async () => {
    await queue.resume();
    worker.concurrency = concurrency;
  });
  const reply = await im.agentSend(agent, userId, [textElem('held up in a backlog')]);
  t.equal(await recallCallback(agent, userId, reply.msgKey), 200, 'im-callback took the recall');
  t.equal(await recallDecided(reply.msgKey), 'stopped');
  const acceptedAt = (await queue.getJob(replyJobId(reply.msgKey)))!.data.acceptedAt;
  await eventually('the undo time is over', () => Date.now() > acceptedAt + UNDO_MS, UNDO_MS + 5000, 100);
  await queue.resume();
  t.same(await completedAs(t, reply.msgKey), { outcome: 'withdrawn' }, 'not sent when its turn came after its undo time');
  t.match(await noticeText(agent, userId), /stopped: the customer will not get it/);
  t.same(relay.textsTo(openid), [], 'the customer got nothing');
});

t.test('a recall after the reply went: the customer has it, and the agent is told WeChat has no recall', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  const reply = await im.agentSend(agent, userId, [textElem('already on its way')]);
  await relay.waitForSent(openid, 1, 20_000);
  await im.agentRecall(agent, userId, reply.msgKey);
  t.match(await noticeText(agent, userId), /WeChat has no recall: they still have it/);
  t.same(relay.textsTo(openid), ['already on its way'], 'the customer got it, once');
  // Counted once the notice has gone: waited for, not read at the notice's arrival.
  const series = 'wxim_pusher_signals_total{signal="recall",outcome="too_late"}';
  await eventually('the recall is counted', async () => (await metricValue(relay.pusher.app, series)) !== undefined);
  t.equal(await metricValue(relay.pusher.app, series), 1);
});

t.test('a recall whose notice IM refuses for good fails as a signal, not as a reply', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  const reply = await im.agentSend(agent, userId, [textElem('gone before the recall')]);
  await relay.waitForSent(openid, 1, 20_000);
  const failedReplies = async () =>
    (await metricLines(relay.pusher.app, 'wxim_pusher_replies_total'))
      .filter((l) => l.includes('outcome="failed"'))
      .reduce((n, l) => n + Number(l.split(' ')[1]), 0);
  const repliesBefore = await failedReplies();
  t.teardown(() => im.clearScripted());
  im.failNext('openim/sendmsg', 80001, 1, 'content security'); // the "too late" notice to the agent
  await im.agentRecall(agent, userId, reply.msgKey);
  const series = 'wxim_pusher_signals_total{signal="recall",outcome="failed"}';
  await eventually('the recall is counted failed', async () => (await metricValue(relay.pusher.app, series)) === 1, 20_000);
  t.ok(await (await queue.getJob(signalJobId('recall', reply.msgKey)))!.isFailed(), 'its job failed, on the dashboard');
  t.equal(await failedReplies(), repliesBefore, 'no reply counted failed');
  t.same(noticesTo(agent, userId), [], 'no notice reached the agent');
  t.same(relay.textsTo(openid), ['gone before the recall'], 'the customer has the reply, once');
});

t.test('a recall of a delivered reply whose job is gone (its progress went with its end) is too late, never "stopped"', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  const reply = await im.agentSend(agent, userId, [textElem('delivered, then cleared away')]);
  t.same(await completedAs(t, reply.msgKey), { outcome: 'delivered', parts: 1 });
  await (await queue.getJob(replyJobId(reply.msgKey)))!.remove(); // as retention would, its deduplication key too
  t.equal(await redis.exists(keys.replyProgress(replyJobId(reply.msgKey))), 0, 'its progress is gone');
  await im.agentRecall(agent, userId, reply.msgKey);
  t.equal(await recallDecided(reply.msgKey), 'too_late');
  t.match(await noticeText(agent, userId), /WeChat has no recall: they still have it/);
  t.same(relay.textsTo(openid), ['delivered, then cleared away']);
});

t.test('a recalled reply that had failed is never delivered by a retry by hand', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  t.teardown(() => wechatApi.clearScripted());
  wechatApi.failNext('message/custom/send', 45015, 1, 'response out of time limit or subscription is canceled');
  const reply = await im.agentSend(agent, userId, [textElem('refused, then recalled')]);
  await eventually('the reply fails', async () => (await (await queue.getJob(replyJobId(reply.msgKey)))?.isFailed()) === true, 20_000);
  await im.agentRecall(agent, userId, reply.msgKey);
  await eventually('the recall is decided', async () => (await recallDecided(reply.msgKey)) !== undefined);
  t.equal(await recallDecided(reply.msgKey), 'finished', 'it had ended without reaching the customer (its agent was told then)');
  // An operator retries the failed replies after the customer wrote again (npm run retry-failed, or the dashboard).
  t.equal((await retryFailedJobs(queue, [replyJobId(reply.msgKey)])).retried, 1);
  t.same(await completedAs(t, reply.msgKey), { outcome: 'withdrawn' }, 'the retry stops: its agent recalled it');
  t.same(relay.textsTo(openid), [], 'the customer never gets it');
  // The same for a failed reply whose record of how it ended has expired (a day): its job still says
  // it failed. (Another customer: WeChat's 45015 closed the first one's window.)
  const other = await relay.newCustomer();
  const later = await im.agentSend(other.agent, other.userId, [textElem('refused long ago')]);
  await eventually('the reply waits for its undo time', async () => (await queue.getJob(replyJobId(later.msgKey))) !== undefined);
  wechatApi.failNext('message/custom/send', 45015, 1, 'response out of time limit or subscription is canceled');
  await eventually('it fails', async () => (await (await queue.getJob(replyJobId(later.msgKey)))?.isFailed()) === true, 20_000);
  await redis.del(keys.replyEnded(replyJobId(later.msgKey)));
  await im.agentRecall(other.agent, other.userId, later.msgKey);
  await eventually('the recall is decided', async () => (await recallDecided(later.msgKey)) !== undefined);
  t.equal(await recallDecided(later.msgKey), 'finished');
  t.equal((await retryFailedJobs(queue, [replyJobId(later.msgKey)])).retried, 1);
  t.same(await completedAs(t, later.msgKey), { outcome: 'withdrawn' });
  t.same(relay.textsTo(other.openid), []);
});

t.test('a recall of a reply that ended before the relay kept how: the agent hears it may have reached the customer', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  const reply = await im.agentSend(agent, userId, [textElem('long ago')]);
  await completedAs(t, reply.msgKey);
  await redis.del(keys.replyEnded(replyJobId(reply.msgKey))); // its record expired (a day)
  await im.agentRecall(agent, userId, reply.msgKey);
  t.equal(await recallDecided(reply.msgKey), 'unknown');
  t.match(await noticeText(agent, userId), /may already have reached the customer in WeChat/);
  t.same(relay.textsTo(openid), ['long ago']);
});

t.test('a recall that comes while the reply is on its way, which WeChat then refuses, stops it after all: never sent again', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  t.teardown(() => wechatApi.clearScripted());
  wechatApi.refuseLate('message/custom/send', -1, 800); // "system busy", after a while (within the pusher's 1 s timeout here)
  const reply = await im.agentSend(agent, userId, [textElem('on its way, then refused')]);
  const progress = keys.replyProgress(replyJobId(reply.msgKey));
  await eventually('the reply is on its way', async () => (await redis.hget(progress, 'p0')) === 'sending', 20_000);
  await im.agentRecall(agent, userId, reply.msgKey);
  t.equal(await recallDecided(reply.msgKey), 'too_late', 'it most likely arrives: the agent hears it is too late');
  t.same(await completedAs(t, reply.msgKey), { outcome: 'withdrawn' }, 'WeChat refused it: withdrawn, not tried again');
  await eventually('the agent hears it was stopped after all', () =>
    noticesTo(agent, userId).some((m) => /was not delivered after all/.test(String(m.body[0]!.MsgContent['Text']))),
  );
  t.same(relay.textsTo(openid), [], 'the customer never gets it');
  const last = noticesTo(agent, userId).at(-1)!;
  t.match(String(last.body[0]!.MsgContent['Text']), /not delivered after all/, "the agent's last word on it: stopped after all");
});

t.test('a recall told only after its reply ended, withdrawn after all, tells the agent it was stopped, not that the customer has it', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  t.teardown(() => wechatApi.clearScripted());
  wechatApi.refuseLate('message/custom/send', -1, 800);
  const reply = await im.agentSend(agent, userId, [textElem('on its way, refused, recall told late')]);
  const progress = keys.replyProgress(replyJobId(reply.msgKey));
  await eventually('the reply is on its way', async () => (await redis.hget(progress, 'p0')) === 'sending', 20_000);
  // The queue hands out no job for a while (held as after a platform's "too many requests"; a
  // backlog would do the same): the reply in flight goes on and ends before the recall's job runs.
  await queue.rateLimit(4000);
  await im.agentRecall(agent, userId, reply.msgKey);
  t.equal(await recallDecided(reply.msgKey), 'too_late');
  t.same(await completedAs(t, reply.msgKey), { outcome: 'withdrawn' });
  t.notOk(await (await queue.getJob(signalJobId('recall', reply.msgKey)))?.isCompleted(), 'the recall waits meanwhile');
  const recall = signalJobId('recall', reply.msgKey);
  await eventually('the recall is done', async () => (await (await queue.getJob(recall))?.isCompleted()) === true, 20_000);
  const texts = noticesTo(agent, userId).map((m) => String(m.body[0]!.MsgContent['Text']));
  t.notOk(
    texts.some((text) => /they still have it/.test(text)),
    'never told the customer has it',
  );
  t.ok(
    texts.some((text) => /not delivered after all/.test(text)),
    'told it was stopped after all',
  );
  t.same(relay.textsTo(openid), [], 'the customer never gets it');
});

t.test("a recall while the reply is on its way, WeChat then refusing it as past the customer's window: the window is known closed all the same", async (t) => {
  const { userId, agent } = await relay.newCustomer();
  t.teardown(() => wechatApi.clearScripted());
  wechatApi.refuseLate('message/custom/send', 45015, 800);
  const reply = await im.agentSend(agent, userId, [textElem('on its way, past the window')]);
  const progress = keys.replyProgress(replyJobId(reply.msgKey));
  await eventually('the reply is on its way', async () => (await redis.hget(progress, 'p0')) === 'sending', 20_000);
  await im.agentRecall(agent, userId, reply.msgKey);
  t.same(await completedAs(t, reply.msgKey), { outcome: 'withdrawn' });
  const calls = wechatApi.stats.calls['message/custom/send'] ?? 0;
  const next = await im.agentSend(agent, userId, [textElem('the next reply')]);
  await eventually('the next reply ends', async () => (await queue.getJob(replyJobId(next.msgKey)))?.finishedOn !== undefined, 20_000);
  t.equal(wechatApi.stats.calls['message/custom/send'] ?? 0, calls, 'without asking WeChat: the relay knows the window closed');
});

t.test("a reply recalled in its undo time, the recall's callback lost, is not delivered on a look made for an earlier reply before the recall", async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  await im.agentSend(agent, userId, [textElem('first')]);
  // The agent writes again a little later: the first reply's look (when its undo time ends) shows
  // the second, and keeps it for the second's own confirmation.
  await new Promise((r) => setTimeout(r, UNDO_MS / 2));
  const second = await im.agentSend(agent, userId, [textElem('second, recalled')]);
  await relay.waitForSent(openid, 1, 20_000);
  // Past the first's look, inside the second's undo time: recalled, and IM's callback of it lost.
  im.callbackLost(1);
  await im.agentRecall(agent, userId, second.msgKey);
  t.same(await completedAs(t, second.msgKey), { outcome: 'withdrawn' }, "IM's history shows the recall to the second's own look");
  t.same(relay.textsTo(openid), ['first'], 'the customer never gets the recalled reply');
});

t.test('a reply found by a sweep whose look for a lost recall IM refuses at every try still goes: failing it would lose a genuine reply', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  im.callbackLost(1);
  await im.agentSend(agent, userId, [textElem('found by the sweep, history refused after')]);
  await relay.callback.sweep.stop();
  await redis.hset(keys.callbackSweep, 'cursor', Date.now() - 10 * 60_000);
  t.equal(await relay.callback.sweep.runIfDue(Date.now() + 31_000), 1, 'the sweep found the reply');
  // Its undo time over, the look for a recall meets IM refusing the history with a code the relay does not know.
  im.failNext('openim/admin_getroammsg', 60014, 10, 'account exchange timed out');
  t.teardown(() => im.clearScripted());
  await relay.waitForSent(openid, 1, UNDO_MS + 15_000);
  t.same(relay.textsTo(openid), ['found by the sweep, history refused after']);
});

t.test("a reply found by a sweep, recalled while it waited for its undo time, the recall's callback lost too, is not delivered", async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  // An ingress that lost callbacks for a while: the reply's, then its recall's.
  im.callbackLost(1);
  const sent = await im.agentSend(agent, userId, [textElem('found by the sweep, then recalled')]);
  // One sweep, by hand, over the last ten minutes (this instance's own sweeps stopped).
  await relay.callback.sweep.stop();
  await redis.hset(keys.callbackSweep, 'cursor', Date.now() - 10 * 60_000);
  t.equal(await relay.callback.sweep.runIfDue(Date.now() + 31_000), 1, 'the sweep found the reply');
  // Stored now, it waits for its undo time from now: the agent recalls it meanwhile.
  im.callbackLost(1);
  await im.agentRecall(agent, userId, sent.msgKey);
  t.same(await completedAs(t, sent.msgKey), { outcome: 'withdrawn' }, "IM's history shows the recall once the undo time is over");
  t.same(relay.textsTo(openid), [], 'the customer never gets it');
});

t.test('a reply is confirmed and delivered though its agent deleted the conversation in their client before its look', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  const reply = await im.agentSend(agent, userId, [textElem('sent, then the agent tidied up')]);
  im.deleteConversation(agent, userId); // within the undo time: before the reply's look at IM's history
  t.same(await completedAs(t, reply.msgKey), { outcome: 'delivered', parts: 1 });
  t.same(relay.textsTo(openid), ['sent, then the agent tidied up']);
});
