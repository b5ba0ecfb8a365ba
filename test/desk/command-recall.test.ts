import { textElem } from '@wxim/im';
import { keyPrefix, replyJobId } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { eventually, textOf, twoWayForTests } from '@wxim/testkit';
import { Redis } from 'ioredis';
import t from 'tap';

// An agent recalls a desk command (/close, /transfer) while it runs. The recall and the command's
// own act on the desk are one or the other, never both: recalled before it acted, the command does
// nothing and its agent hears it was stopped; recalled after, its agent hears it was carried out.
const relay = await twoWayForTests(t);
const { im } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const keys = stateKeys(keyPrefix(relay.env['QUEUE_PREFIX']!, false));

async function conversation() {
  const c = await relay.newCustomer();
  const notices = () =>
    im
      .messagesBetween(c.userId, c.agent)
      .filter((m) => m.cloudCustomData?.includes('relay-notice'))
      .map(textOf);
  return { ...c, notices };
}

async function completedAs(msgKey: string): Promise<unknown> {
  await eventually('the command completes', async () => (await relay.pusher.queue.getJob(replyJobId(msgKey)))?.finishedOn !== undefined, 15_000);
  return (await relay.pusher.queue.getJob(replyJobId(msgKey)))!.returnvalue;
}

t.test('a /close recalled while it waits for its look at IM’s history does nothing, and its agent hears it was stopped', async (t) => {
  const c = await conversation();
  const slow = () => im.stats.faults.slow;
  const before = slow();
  // The look that confirms the command in IM's history is answered 2 s late: the recall comes meanwhile.
  im.answerLate('openim/admin_getroammsg', 2000, 1);
  t.teardown(() => im.clearScripted());
  const cmd = await im.agentSend(c.agent, c.userId, [textElem('/close')]);
  await eventually('the command is looking at the history', () => slow() === before + 1, 10_000);
  t.ok(await im.agentRecall(c.agent, c.userId, cmd.msgKey), 'im-callback took the recall');
  t.same(await completedAs(cmd.msgKey), { outcome: 'withdrawn' });
  t.equal(await redis.hget(keys.customer(c.openid), 'counted'), '1', 'the conversation is still open');
  await eventually('the agent is told', () => c.notices().some((n) => /stopped/.test(n)), 10_000);
  t.notOk(
    c.notices().some((n) => /Conversation closed/.test(n)),
    'no close notice',
  );
});

t.test('a /close recalled after it closed: its agent hears it was carried out', async (t) => {
  const c = await conversation();
  // The close's own notice is answered 2 s late: the recall comes after the close, before the command ends.
  im.answerLate('openim/sendmsg', 2000, 1);
  t.teardown(() => im.clearScripted());
  let recalled: Promise<boolean> | undefined;
  let cmdKey = '';
  const stop = im.onMessage((m) => {
    if (m.from !== c.userId || m.to !== c.agent || !/Conversation closed/.test(textOf(m))) return;
    stop();
    recalled = im.agentRecall(c.agent, c.userId, cmdKey);
  });
  t.teardown(stop);
  cmdKey = (await im.agentSend(c.agent, c.userId, [textElem('/close')])).msgKey;
  await eventually('the recall comes while the close notice waits for its answer', () => recalled !== undefined, 10_000);
  t.ok(await recalled, 'im-callback took the recall');
  t.match(await completedAs(cmdKey), { outcome: 'command', command: 'close' });
  t.equal(await redis.hget(keys.customer(c.openid), 'counted'), '0', 'closed');
  await eventually('the agent is told', () => c.notices().some((n) => /already been carried out/.test(n)), 10_000);
  t.notOk(
    c.notices().some((n) => /stopped/.test(n)),
    'never told it was stopped',
  );
});

t.test('a /close recalled after it ended: its agent hears it was carried out', async (t) => {
  const c = await conversation();
  const cmd = await im.agentSend(c.agent, c.userId, [textElem('/close')]);
  t.match(await completedAs(cmd.msgKey), { outcome: 'command', command: 'close' });
  t.ok(await im.agentRecall(c.agent, c.userId, cmd.msgKey), 'im-callback took the recall');
  await eventually('the agent is told', () => c.notices().some((n) => /already been carried out/.test(n)), 10_000);
  t.equal(await redis.hget(keys.customer(c.openid), 'counted'), '0', 'still closed');
});
