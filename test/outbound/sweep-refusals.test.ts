import { textElem } from '@wxim/im';
import { stateKeys } from '@wxim/state';
import { AGENTS, sweptByHandForTests } from '@wxim/testkit';
import t from 'tap';

// IM answers some calls with codes the relay does not know (it takes them as refusals). A sweep
// that met one must not move on as if it had looked: a refused conversation list holds the sweeps'
// cursor back (for LISTS_REFUSED_GRACE_MS, 3 s here: past it, the lists are taken as refused for
// good), and a refused history leaves its conversation owed a look. Sweeps are run by hand here.
const { relay, sweep, redis } = await sweptByHandForTests(t, { sweepListsGraceMs: 3000 });
const { im } = relay;
const keys = stateKeys(relay.env['QUEUE_PREFIX']!);
const UNKNOWN = 50004; // a code the relay has no class for

/** A reply whose callback never came, sent `ago` ms ago as far as IM's records go; the customer last wrote `wrote` ms ago. */
async function missedReply(text: string, ago: number, wrote: number) {
  const c = await relay.newCustomer();
  await redis.zadd(keys.recentCustomers, Date.now() - wrote, c.openid);
  im.callbackLost(1);
  const sent = await im.agentSend(c.agent, c.userId, [textElem(text)]);
  im.messages.find((m) => m.msgKey === sent.msgKey)!.receivedAt = Date.now() - ago;
  return c;
}

/** The sweeps stopped `ago` ms ago (an outage, a sweep far behind). */
const sweptUpTo = (ago: number) => redis.hset(keys.callbackSweep, 'cursor', Date.now() - ago);

t.test('a sweep whose conversation lists IM refused with a code it does not know looks through the same time again', async (t) => {
  // The customer wrote 20 minutes ago; only the agent wrote since, 5 minutes ago: only the lists show it.
  const c = await missedReply('only the lists show this one', 5 * 60_000, 20 * 60_000);
  await sweptUpTo(6 * 60_000);
  const cursor = (await sweep.state()).cursor;
  im.failNext('recentcontact/get_list', UNKNOWN, AGENTS.length);
  t.equal(await sweep.runIfDue(), 0, 'nothing found while the lists are refused');
  t.equal((await sweep.state()).cursor, cursor, 'the cursor held back');
  t.equal(await sweep.runIfDue(Date.now() + 1500), 1, 'the next sweep, with the lists, finds it');
  t.same(await relay.waitForSent(c.openid, 1).then((m) => m.map((s) => s.payload['content'])), ['only the lists show this one']);
  t.ok((await sweep.state()).cursor! > cursor!, 'the cursor moves on');
});

t.test("an agent's conversation list IM keeps failing for (busy) while it answers the others holds back no other, and hides nothing", async (t) => {
  // Only the agent wrote since the sweep's start: only the lists show it.
  const c = await missedReply('found although a list failed', 5 * 60_000, 20 * 60_000);
  await sweptUpTo(6 * 60_000);
  // The first list asked for fails on each of its tries ("server busy"); the others answer.
  im.failNext('recentcontact/get_list', 90994, 3);
  t.equal(await sweep.runIfDue(), 1, 'the sweep goes on, and finds it');
  t.same(await relay.waitForSent(c.openid, 1).then((m) => m.map((s) => s.payload['content'])), ['found although a list failed']);
});

t.test('with every conversation list failing (IM down) the sweep fails as a whole, its cursor held', async (t) => {
  await sweptUpTo(6 * 60_000);
  const cursor = (await sweep.state()).cursor;
  im.failNext('recentcontact/get_list', 90994, 3 * AGENTS.length);
  t.teardown(() => im.clearScripted());
  await t.rejects(sweep.runIfDue(), /90994|busy|scripted/);
  t.equal((await sweep.state()).cursor, cursor, 'the cursor held back');
});

t.test("a conversation in which only a colleague wrote, pushed out of the colleague's conversation list by IM's cap, is found", async (t) => {
  const c = await relay.newCustomer();
  const colleague = AGENTS.find((a) => a !== c.agent)!;
  await redis.zadd(keys.recentCustomers, Date.now() - 20 * 60_000, c.openid);
  im.callbackLost(1);
  const sent = await im.agentSend(colleague, c.userId, [textElem('a colleague wrote here, then in a hundred more')]);
  im.messages.find((m) => m.msgKey === sent.msgKey)!.receivedAt = Date.now() - 5 * 60_000;
  await sweptUpTo(6 * 60_000);
  // The colleague then wrote in 100 other conversations: IM's list holds the latest 100, all newer
  // than the sweep's start, so it no longer shows this one.
  const others = Array.from({ length: 100 }, (_, i) => ({
    from: colleague,
    to: `someone_else_${i}`,
    msgSeq: i + 1,
    msgRandom: i + 1,
    body: [textElem('elsewhere')],
    receivedAt: Date.now() - 60_000 + i,
    msgKey: `elsewhere_${i}`,
  }));
  im.messages.push(...others);
  t.teardown(() => {
    for (const m of others) im.messages.splice(im.messages.indexOf(m), 1);
  });
  t.equal(await sweep.runIfDue(), 1, "found: every customer who wrote within 48 hours is looked through, in the colleague's conversation too");
  t.same(await relay.waitForSent(c.openid, 1).then((m) => m.map((s) => s.payload['content'])), ['a colleague wrote here, then in a hundred more']);
});

t.test("an agent's short conversation list whose every entry is recent is whole: the sweep reads no one else's conversation", async (t) => {
  // 30 customers who wrote within 48 hours but not since the sweep's start: only a capped list would have them read.
  const idle = Array.from({ length: 30 }, (_, i) => `idle_customer_${i}`);
  await redis.zadd(keys.recentCustomers, ...idle.flatMap((openid) => [Date.now() - 30 * 60_000, openid]));
  t.teardown(() => redis.zrem(keys.recentCustomers, ...idle));
  await sweptUpTo(6 * 60_000);
  await sweep.runIfDue();
  t.ok((await sweep.state()).conversations! < idle.length, `only the active conversations were read (${(await sweep.state()).conversations})`);
});

t.test('a conversation whose history IM refused with a code it does not know is owed another look', async (t) => {
  const c = await missedReply('the history showed this one later', 4 * 60_000, 5 * 60_000);
  await sweptUpTo(6 * 60_000);
  im.historyRefused.set(c.userId, UNKNOWN);
  t.teardown(() => im.historyRefused.clear());
  t.equal(await sweep.runIfDue(), 0, 'nothing found while the history is refused');
  t.ok((await redis.zscore(keys.callbackOwed, c.openid)) !== null, 'owed a look');
  im.historyRefused.clear();
  // Far past the reply: only the look owed reaches back to it.
  await sweptUpTo(1000);
  t.equal(await sweep.runIfDue(Date.now() + 1500), 1, 'the look owed finds it');
  t.same(await relay.waitForSent(c.openid, 1).then((m) => m.map((s) => s.payload['content'])), ['the history showed this one later']);
  t.equal(await redis.zscore(keys.callbackOwed, c.openid), null, 'owed no more');
});

t.test('conversation lists refused past the grace are taken as refused for good: sweeps go on without them', async (t) => {
  await sweptUpTo(5000);
  im.failNext('recentcontact/get_list', UNKNOWN, 100 * AGENTS.length);
  t.teardown(() => im.clearScripted());
  const held = (await sweep.state()).cursor;
  await sweep.runIfDue();
  t.equal((await sweep.state()).cursor, held, 'held at first');
  t.ok(await redis.hget(keys.callbackSweep, 'listsRefusedSince'), 'since when the lists are refused, kept for the fleet');
  // The refusal has lasted past the grace.
  await redis.hset(keys.callbackSweep, 'listsRefusedSince', Date.now() - 4000);
  await sweep.runIfDue(Date.now() + 1500);
  t.ok((await sweep.state()).cursor! > held!, 'the sweep moved on without the lists');
  im.clearScripted();
  await sweep.runIfDue(Date.now() + 3000);
  t.equal(await redis.hget(keys.callbackSweep, 'listsRefusedSince'), null, 'lists that answer again end the refusal');
});

t.test('a conversation whose history IM has refused for the whole 48 hours is owed no more', async (t) => {
  const c = await relay.newCustomer();
  await redis.zadd(keys.callbackOwed, Date.now() - 49 * 3600_000, c.openid); // owed a look since before the horizon
  im.historyRefused.set(c.userId, UNKNOWN);
  t.teardown(() => im.historyRefused.clear());
  await sweptUpTo(5000);
  await sweep.runIfDue();
  t.equal(await redis.zscore(keys.callbackOwed, c.openid), null, 'no longer owed: every sweep would fail for it, forever');
});

t.test(
  "a gap's recovery reads the looks owed, and leaves them owed: it reads only to its gap's end, the next sweep from where the sweeps stopped",
  async (t) => {
    const c = await relay.newCustomer();
    const owedFrom = Date.now() - 60_000;
    await redis.zadd(keys.callbackOwed, owedFrom, c.openid);
    // A gap that ended half an hour ago: its recovery reads up to a little after that.
    const to = Date.now() - 30 * 60_000;
    const from = to - 60_000;
    await redis.zadd(keys.callbackGaps, from, `${from}-${to}`);
    relay.callback.recovery.trigger();
    await relay.callback.recovery.idle();
    t.same(await relay.callback.watch.gaps(), [], 'the gap is recovered');
    t.equal(Number(await redis.zscore(keys.callbackOwed, c.openid)), owedFrom, 'the look is still owed, from when it was');
  },
);

t.test('with the only list there is to read failing (the other agents have no IM account) the sweep fails as a whole', async (t) => {
  t.teardown(() => im.clearScripted());
  await sweptUpTo(6 * 60_000);
  const cursor = (await sweep.state()).cursor;
  // The first agent's list fails on each of its three tries (IM busy); IM has no account for the others.
  im.failNext('recentcontact/get_list', 90994, 3);
  im.failNext('recentcontact/get_list', 70107, AGENTS.length - 1, 'From_Account not imported');
  await t.rejects(sweep.runIfDue(), /90994|busy|scripted/, 'the one list to read failed: IM down');
  t.equal((await sweep.state()).cursor, cursor, 'the cursor held back');
});
