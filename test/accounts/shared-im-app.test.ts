import { textElem } from '@wxim/im';
import { QUEUES, accountPrefix } from '@wxim/queue';
import { HOLD_MARK, stateKeys } from '@wxim/state';
import { Redis } from 'ioredis';
import { fakeOpenId, paceOf } from '@wxim/sandbox';
import t from 'tap';
import { accountCustomerWrites, eventually, pushBacklog, startAccountsRelay, startTestRedis, textOf } from '@wxim/testkit';

// Two Official Accounts that share one IM app (its agents answer the customers of both): IM calls
// the relay back once per reply, at /im/callback with the app's SdkAppid, and each account takes
// only its own customers' replies. IM's real limit (200 calls/s per command) and the default
// configuration (IM_RATE_LIMIT 180).
const CAP = 180;
const redis = await startTestRedis();
t.teardown(() => redis.close());
const relay = await startAccountsRelay(redis.url, ['one', 'two'], { sharedIm: true });
t.teardown(() => relay.close());
const [one, two] = [relay.account('one'), relay.account('two')];
const im = one.im;

const relayedOf = (prefix: string) => im.messages.filter((m) => textOf(m).startsWith(prefix)).length;

t.test("the shared app's agents answer both accounts' customers, each through its own Official Account, once", async (t) => {
  t.equal(two.im, im, 'one IM app');
  const [openOne, openTwo] = [fakeOpenId(), fakeOpenId()];
  const custOne = await accountCustomerWrites(one, openOne, 'hello, account one');
  const custTwo = await accountCustomerWrites(two, openTwo, 'hello, account two');
  await im.agentSend(custOne.agent, custOne.userId, [textElem('for one 1')]);
  await im.agentSend(custTwo.agent, custTwo.userId, [textElem('for two 1')]);
  await im.agentSend(custOne.agent, custOne.userId, [textElem('for one 2')]);
  await eventually('all three are delivered', () => one.wechatApi.sentTo(openOne).length === 2 && two.wechatApi.sentTo(openTwo).length === 1);
  t.same(
    one.wechatApi.sentTo(openOne).map((m) => m.payload['content']),
    ['for one 1', 'for one 2'],
  );
  t.same(
    two.wechatApi.sentTo(openTwo).map((m) => m.payload['content']),
    ['for two 1'],
  );
  t.same(one.wechatApi.sentTo(openTwo), [], "account one's Official Account never sent to account two's customer");
  t.same(two.wechatApi.sentTo(openOne), [], "account two's Official Account never sent to account one's customer");
});

t.test("accounts that share an IM app share its pace: never over IM_RATE_LIMIT together, and the app's whole budget used", async (t) => {
  await Promise.all([pushBacklog(one, 900, 100, 25), pushBacklog(two, 900, 100, 25)]);
  // Measured once both backlogs are in: from then on there is always more work than the pace allows.
  const since = Date.now();
  t.ok(relayedOf('backlog ') < 1800 - 5 * CAP, `${1800 - relayedOf('backlog ')} messages waiting, more than 5 s of the pace`);
  await eventually('both backlogs are relayed', () => relayedOf('backlog ') >= 1800, 30_000, 100);
  const pace = paceOf(im.callsPerSecond(), 'openim/sendmsg', since);
  t.ok(pace.seconds.length >= 4, `${pace.seconds.length} whole seconds measured`);
  t.ok(pace.max <= CAP * 1.05, `never over ${CAP} sendmsg/s together (5% for calls in flight): ${pace.seconds.join(', ')}`);
  t.ok(pace.median >= 0.95 * CAP, `${pace.median} sendmsg/s in most seconds (${pace.mean.toFixed(1)} on average), at least 95% of ${CAP}`);
  t.equal(im.stats.rateLimited, 0, 'IM never answered 60007');
  t.equal(relayedOf('backlog '), 1800, 'each once, from both accounts');
});

t.test("IM's 'too many requests' to one account holds back the app's other accounts too: their calls share its pace", async (t) => {
  const client = new Redis(redis.url);
  t.teardown(() => client.disconnect());
  const limiterOf = (account: string) => stateKeys(accountPrefix(relay.env['QUEUE_PREFIX']!, false, account)).queue(QUEUES.wechatInbound).limiter;
  const [openOne, openTwo] = [fakeOpenId(), fakeOpenId()];
  await accountCustomerWrites(one, openOne, 'known to IM, one');
  await accountCustomerWrites(two, openTwo, 'known to IM, two');
  im.failNext('openim/sendmsg', 60007, 1);
  await one.wechat.push(one.wechat.text(openOne, 'refused once, then relayed'));
  let heldUntil = 0;
  // The hold, not BullMQ's count of the jobs begun in the last second, which lives in the same key.
  await eventually("IM refused it: account one's queue holds back", async () => {
    const [[, held], [, ms]] = (await client.multi().get(limiterOf('one')).pttl(limiterOf('one')).exec()) as [[null, string | null], [null, number]];
    if (held === String(HOLD_MARK) && ms > 0) heldUntil = Date.now() + ms;
    return heldUntil > 0;
  });
  await two.wechat.push(two.wechat.text(openTwo, 'while the app is held'));
  await eventually('both relayed', () => relayedOf('refused once') === 1 && relayedOf('while the app') === 1, 10_000);
  const at = im.messages.find((m) => textOf(m) === 'while the app is held')!.receivedAt;
  t.ok(at >= heldUntil - 100, `account two's message waited out the hold (${at - heldUntil} ms after it)`);
});
