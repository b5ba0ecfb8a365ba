import { textElem } from '@wxim/im';
import { keyPrefix, signalJobId } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { eventually, twoWayForTests } from '@wxim/testkit';
import { Redis } from 'ioredis';
import t from 'tap';

const relay = await twoWayForTests(t, { env: { LOG_LEVEL: process.env['DBG'] ? 'debug' : 'silent' } });
const { im, wechatApi } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const prefix = relay.env['QUEUE_PREFIX']!;
const keys = stateKeys(keyPrefix(prefix, false));

/** What the pusher made of a typing signal (shown, already_shown, window, …), once it ran. */
async function outcomeOf(msgKey: string, signal: 'typing' | 'typing-stop' = 'typing'): Promise<string> {
  const id = signalJobId(signal, msgKey);
  await eventually(`signal ${id} is done`, async () => (await relay.pusher.queue.getJob(id))?.finishedOn !== undefined);
  return String(((await relay.pusher.queue.getJob(id))!.returnvalue as { result?: string } | undefined)?.result);
}

const typingCalls = (openid: string, command = 'Typing') => wechatApi.typingCalls.filter((c) => c.openid === openid && c.command === command);

t.test('an agent typing shows "typing…" to the customer, never as a message nor in IM\'s history', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  const before = im.messages.length;
  const typed = await im.agentTyping(agent, userId, true);
  t.ok(typed.delivered, 'im-callback took the callback');
  await eventually('the customer sees typing', () => wechatApi.isTyping(openid));
  t.equal(await outcomeOf(typed.msgKey), 'shown');
  t.equal(wechatApi.sentTo(openid).length, 0, 'no message reached the customer');
  t.equal(im.messages.length, before, 'IM keeps no history of it');
});

t.test('typing-stop cancels the indicator that is shown; with none shown it calls nothing', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  const stopFirst = await im.agentTyping(agent, userId, false);
  t.equal(await outcomeOf(stopFirst.msgKey, 'typing-stop'), 'not_shown');
  t.equal(typingCalls(openid, 'CancelTyping').length, 0, 'nothing to cancel: no call');
  await im.agentTyping(agent, userId, true);
  await eventually('the customer sees typing', () => wechatApi.isTyping(openid));
  const stop = await im.agentTyping(agent, userId, false);
  t.equal(await outcomeOf(stop.msgKey, 'typing-stop'), 'cancelled');
  t.notOk(wechatApi.isTyping(openid), 'the indicator is gone');
});

t.test('the reply cancels typing, and the next typing shows again', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  await im.agentTyping(agent, userId, true);
  await eventually('the customer sees typing', () => wechatApi.isTyping(openid));
  await im.agentSend(agent, userId, [textElem('here you are')]);
  await relay.waitForSent(openid, 1);
  t.notOk(wechatApi.isTyping(openid), 'the message ended it');
  const again = await im.agentTyping(agent, userId, true);
  t.equal(await outcomeOf(again.msgKey), 'shown', 'not taken for already shown');
  t.ok(wechatApi.isTyping(openid));
  t.same(
    typingCalls(openid).map((c) => c.errcode),
    [0, 0],
    'both asked of WeChat, both taken (no 45081)',
  );
});

t.test('a typing the agent gave before a reply that has gone shows nothing when it runs late', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  const typedAt = Date.now();
  await im.agentSend(agent, userId, [textElem('done already')]);
  await relay.waitForSent(openid, 1);
  // The pusher marks the reply sent a moment after WeChat took it.
  await eventually('the reply is marked sent', async () => (await redis.get(keys.typingShown(openid)))?.startsWith('sent:') === true);
  // As if its callback had been stored before the reply and waited behind a backlog of signals.
  const msgKey = `late-typing-${typedAt}`;
  await relay.pusher.queue.add(
    'signal',
    { agent, userId, openid, msgKey, msgTime: Math.floor(typedAt / 1000), body: [], acceptedAt: typedAt, via: 'callback', signal: 'typing' },
    { jobId: signalJobId('typing', msgKey) },
  );
  t.equal(await outcomeOf(msgKey), 'after_reply');
  t.equal(typingCalls(openid).length, 0, 'WeChat was not asked');
  t.notOk(wechatApi.isTyping(openid), 'the customer sees no "typing…" after the answer');
  // The agent typing again after the reply does show.
  const again = await im.agentTyping(agent, userId, true);
  t.equal(await outcomeOf(again.msgKey), 'shown');
});

t.test('typing is not asked again while it is shown', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  const first = await im.agentTyping(agent, userId, true);
  t.equal(await outcomeOf(first.msgKey), 'shown');
  const second = await im.agentTyping(agent, userId, true);
  t.equal(await outcomeOf(second.msgKey), 'already_shown');
  t.equal(typingCalls(openid).length, 1, 'one call to WeChat');
});

t.test("typing is not sent when the customer's last message is older than 30 s", async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  await redis.hset(`${prefix}:reply-window:${openid}`, 'at', String(Date.now() - 31_000));
  const typed = await im.agentTyping(agent, userId, true);
  t.equal(await outcomeOf(typed.msgKey), 'window');
  t.equal(typingCalls(openid).length, 0, 'WeChat was not even asked (it would answer 45080)');
});

t.test('typing between replies changes neither their order nor what is delivered', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  for (let i = 1; i <= 3; i++) {
    await im.agentTyping(agent, userId, true);
    await im.agentSend(agent, userId, [textElem(`part ${i}`)]);
  }
  await relay.waitForSent(openid, 3);
  t.same(relay.textsTo(openid), ['part 1', 'part 2', 'part 3']);
  t.ok(
    wechatApi.sentTo(openid).every((m) => m.msgtype === 'text'),
    'only the replies went as messages',
  );
});
