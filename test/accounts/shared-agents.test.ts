import { DEFAULT_WAITING_TEXT } from '@wxim/config';
import { textElem } from '@wxim/im';
import { fakeOpenId } from '@wxim/sandbox';
import { stateKeys } from '@wxim/state';
import { Redis } from 'ioredis';
import t from 'tap';
import { accountCustomerWrites, eventually, startAccountsRelay, startTestRedis, testAccountCredentials, testPrefix, textOf } from '@wxim/testkit';

// Two Official Accounts that share one IM app and so its two agents, each agent with room for one
// open conversation (AGENT_MAX_OPEN 1). An agent's place is the app's: a conversation in one
// account fills it for the other, and a place freed in one goes to whoever waited longest in
// either, at once (not at the waiting customer's next look, 30 s later). IM's real limit is on.
const redis = await startTestRedis();
t.teardown(() => redis.close());
const client = new Redis(redis.url);
t.teardown(() => client.disconnect());
const prefix = testPrefix();
const appLoad = `${prefix}:im-app:${testAccountCredentials(0, 'one').sdkAppId}:agent-load`;
// Counts gone wrong before this start (e.g. an account that shared the app has left it): the
// first agent looks full. The im-worker counts afresh as it starts.
await client.zadd(appLoad, '1', 'one_agent1', '1', 'one_agent2');
await client.set(`${prefix}:im-app:${testAccountCredentials(0, 'one').sdkAppId}:desk:loads-own`, '1');
const relay = await startAccountsRelay(redis.url, ['one', 'two'], { sharedIm: true, env: { AGENT_MAX_OPEN: '1', QUEUE_PREFIX: prefix } });
t.teardown(() => relay.close());
const [one, two] = [relay.account('one'), relay.account('two')];
const im = one.im;
const keysOf = (account: string) => stateKeys(`${prefix}/${account}`, { at: appLoad.slice(0, -':agent-load'.length), from: `${prefix}/${account}` });
/** The app's agents' open conversations, by agent. */
const loads = async () => {
  const scored = await client.zrange(keysOf('two').agentLoad, 0, -1, 'WITHSCORES');
  return Object.fromEntries(Array.from({ length: scored.length / 2 }, (_, i) => [scored[2 * i]!, Number(scored[2 * i + 1])]));
};

const [openOne, openTwo, openLater] = [fakeOpenId(), fakeOpenId(), fakeOpenId()];

t.test("an agent's open conversations count across the accounts that share the IM app", async (t) => {
  const first = await accountCustomerWrites(one, openOne, 'hello from account one');
  t.equal(first.agent, 'one_agent1', 'the agents were counted afresh at start: both free, the first in IM_AGENTS');
  // Counted apart, account two would see both agents free and give its customer the first (the same agent).
  const second = await accountCustomerWrites(two, openTwo, 'hello from account two');
  t.not(second.agent, first.agent, "account two's customer goes to the agent with room, the other");
  t.same(await loads(), { [first.agent]: 1, [second.agent]: 1 }, 'one load for the app: one conversation each');

  const later = await two.wechat.push(two.wechat.text(openLater, 'anyone there?'));
  t.equal(later.status, 200);
  await eventually("account two's next customer waits: both agents are full", async () => (await client.zscore(keysOf('two').deskWaiting, openLater)) !== null);
  t.notOk(
    im.messages.some((m) => m.cloudCustomData?.includes(openLater)),
    'and their message waits with them',
  );

  // The first agent closes account one's conversation: the place goes to account two's customer now.
  await im.agentSend(first.agent, first.userId, [textElem('/close')]);
  await eventually(
    "account two's waiting customer reaches the agent whose place freed in account one, within 10 s (their own next look is 30 s away)",
    () => im.messages.some((m) => m.cloudCustomData?.includes(openLater) && textOf(m) === 'anyone there?'),
    10_000,
  );
  const m = im.messages.find((m) => m.cloudCustomData?.includes(openLater))!;
  t.equal(m.to, first.agent, 'to the agent whose place freed');
  t.same(await loads(), { [first.agent]: 1, [second.agent]: 1 }, "the place account one freed is account two's now");
  t.equal(await client.zscore(keysOf('two').deskWaiting, openLater), null, 'no longer waiting');
  t.equal(await client.exists(keysOf('two').carriedLoad), 0, 'account two keeps no count of its own');
});

t.test('customers waiting in either account are served in the order they began to wait', async (t) => {
  // Both agents hold one of account two's conversations (the test before): one ends it, and account one's customer takes the place.
  const later = im.messages.find((m) => m.cloudCustomData?.includes(openLater))!;
  await im.agentSend(later.to, later.from, [textElem('/close')]);
  await eventually('the place is free', async () => (await loads())[later.to] === 0);
  const [openFive, openWaits, openNew] = [fakeOpenId(), fakeOpenId(), fakeOpenId()];
  const five = await accountCustomerWrites(one, openFive, 'account one again');
  t.equal(five.agent, later.to);
  t.equal((await two.wechat.push(two.wechat.text(openWaits, 'waiting in account two'))).status, 200);
  await eventually("account two's customer waits", async () => (await client.zscore(keysOf('two').deskWaiting, openWaits)) !== null);
  // Account one's conversation goes idle past CLOSE_AFTER_IDLE: its place is free, and owed to
  // account two's customer, who waited longer (whose own next look may close it: an idle
  // conversation of any account of the app holds no place).
  await client.zadd(keysOf('one').deskActive, String(Date.now() - 49 * 3_600_000), openFive);
  const pushed = await one.wechat.push(one.wechat.text(openNew, 'new in account one'));
  t.equal(pushed.reply?.includes(DEFAULT_WAITING_TEXT), true, "the gateway tells account one's newcomer they wait: account two's customer waited longer");
  await eventually("account one's newcomer waits", async () => (await client.zscore(keysOf('one').deskWaiting, openNew)) !== null);
  const takenByTwo = (await client.zscore(keysOf('two').deskActive, openWaits)) !== null;
  t.equal((await loads())[later.to], takenByTwo ? 1 : 0, "the place is free, or account two's customer has it: never account one's newcomer");
  t.notOk(
    im.messages.some((m) => m.cloudCustomData?.includes(openNew)),
    "account one's newcomer's message waits with them",
  );
});
