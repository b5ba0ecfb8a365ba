import { textElem } from '@wxim/im';
import { replyJobId } from '@wxim/queue';
import type { ReceivedMessage } from '@wxim/sandbox';
import { eventually, twoWayForTests } from '@wxim/testkit';
import t from 'tap';

const UNDO_MS = 1500;
const relay = await twoWayForTests(t, { env: { REPLY_UNDO_MS: String(UNDO_MS), LOG_LEVEL: process.env['DBG'] ? 'debug' : 'silent' } });
const { im } = relay;

function noticesTo(agent: string, userId: string): ReceivedMessage[] {
  return im.messages.filter((m) => m.from === userId && m.to === agent && m.cloudCustomData?.includes('relay-notice'));
}

async function noticeText(agent: string, userId: string): Promise<string> {
  await eventually('a notice reaches the agent', () => noticesTo(agent, userId).length > 0);
  return String(noticesTo(agent, userId)[0]!.body[0]!.MsgContent['Text']);
}

t.test('a reply recalled within the undo time is not delivered, its agent is told, and the next reply goes after it', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  const oops = await im.agentSend(agent, userId, [textElem('wrong customer, sorry')]);
  await im.agentSend(agent, userId, [textElem('the right answer')]);
  t.ok(await im.agentRecall(agent, userId, oops.msgKey), 'im-callback took the recall');
  t.match(await noticeText(agent, userId), /stopped: the customer will not get it/);
  await relay.waitForSent(openid, 1);
  t.same(relay.textsTo(openid), ['the right answer'], 'only the reply sent after it');
  const job = await relay.pusher.queue.getJob(replyJobId(oops.msgKey));
  await eventually('the recalled reply completes', async () => (await job!.isCompleted()) === true);
  t.same((await relay.pusher.queue.getJob(replyJobId(oops.msgKey)))!.returnvalue, { outcome: 'withdrawn' }, 'completed as withdrawn, not failed');
  await new Promise((r) => setTimeout(r, 200));
  t.same(relay.textsTo(openid), ['the right answer'], 'still nothing else');
});

t.test('a reply waiting for its undo time keeps a later reply behind it', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  const sentAt = Date.now();
  await im.agentSend(agent, userId, [textElem('first')]);
  await im.agentSend(agent, userId, [textElem('second')]);
  const sent = await relay.waitForSent(openid, 2, 20_000);
  t.same(
    sent.map((m) => m.payload['content']),
    ['first', 'second'],
    'in the order the agent sent them',
  );
  t.ok(sent[0]!.receivedAt - sentAt >= UNDO_MS - 100, `the first waited its undo time (${sent[0]!.receivedAt - sentAt} ms)`);
});

t.test('a recall after the reply went: the customer has it, and the agent is told WeChat has no recall', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  const reply = await im.agentSend(agent, userId, [textElem('already on its way')]);
  await relay.waitForSent(openid, 1, 20_000);
  await im.agentRecall(agent, userId, reply.msgKey);
  t.match(await noticeText(agent, userId), /WeChat has no recall: they still have it/);
  t.same(relay.textsTo(openid), ['already on its way'], 'the customer got it, once');
  const metrics = (await relay.pusher.app.inject({ url: '/metrics' })).body;
  t.match(metrics, /wxim_pusher_signals_total\{signal="recall",outcome="too_late"\} 1/);
});
