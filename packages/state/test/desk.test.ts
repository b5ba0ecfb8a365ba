import { AgentLoad, ConversationLine, RelayTurn, type StateKeys, stateKeys } from '@wxim/state';
import { relayScripts } from '@wxim/redis-scripts';
import { Redis } from 'ioredis';
import t from 'tap';
import { startTestRedis, testPrefix } from '@wxim/testkit';

const server = await startTestRedis();
const redis = new Redis(server.url);
t.teardown(async () => {
  redis.disconnect();
  await server.close();
});

const HOUR = 3_600_000;
/** Job ids, unique across desks (two desks may share an account's keys). */
let jobCount = 0;

/** A desk of `agents` under its own prefix (or `keys`'); `begin(openid)` runs a one-job conversation's turn and says who serves it. */
function desk(
  agents: string[],
  policy: Partial<{ maxOpen: number; idleMs: number; staleMs: number }> = {},
  keys = stateKeys(testPrefix()),
  others: StateKeys[] = [],
) {
  const jobs = keys.jobs('wechat-inbound');
  const line = new ConversationLine(redis, keys, 'wechat-inbound', keys.relayIds);
  const turn = new RelayTurn(redis, keys, 'wechat-inbound', agents, { maxOpen: 20, idleMs: 48 * HOUR, staleMs: 120_000, ...policy }, others);
  return {
    keys,
    load: new AgentLoad(redis, keys),
    /** The agent the customer's next message goes to, or undefined: they wait. */
    async begin(openid: string): Promise<string | undefined> {
      const id = `j${++jobCount}`;
      await redis.hset(`${jobs}${id}`, 'name', 'text');
      await line.append(openid, id);
      const begun = await turn.begin(openid, id, 'open');
      await redis.hset(`${jobs}${id}`, 'finishedOn', '1');
      await line.finish(openid, id);
      if (begun.turn !== 'head') throw new Error(`not at the head: ${begun.turn}`);
      return begun.customer.agent;
    },
    /** As begin, but the job stays (unfinished, in its line): a message still on its way. */
    async look(openid: string, id = `j${++jobCount}`): Promise<{ id: string; agent?: string; waitEndedAt?: number }> {
      if ((await redis.exists(`${jobs}${id}`)) === 0) {
        await redis.hset(`${jobs}${id}`, 'name', 'text');
        await line.append(openid, id);
      }
      const begun = await turn.begin(openid, id, 'open');
      if (begun.turn !== 'head') throw new Error(`not at the head: ${begun.turn}`);
      return {
        id,
        ...(begun.customer.agent === undefined ? {} : { agent: begun.customer.agent }),
        ...(begun.waitEndedAt === undefined ? {} : { waitEndedAt: begun.waitEndedAt }),
      };
    },
    state: (agent: string, action: string) => redis.hset(keys.agentState, agent, JSON.stringify({ account: agent, action })),
    waiting: () => redis.zrange(keys.deskWaiting, 0, -1),
  };
}

t.test('new customers go to the online agent with the fewest open conversations, ties to the one idle longest', async (t) => {
  const d = desk(['a1', 'a2', 'a3']);
  await d.state('a2', 'Logout');
  t.equal(await d.begin('c1'), 'a1', 'a1: never heard of, counts as online; first in IM_AGENTS');
  t.equal(await d.begin('c2'), 'a3', 'a3 has none; a2 is logged out');
  t.equal(await d.begin('c3'), 'a1', 'a1 and a3 have one each: a1 was given one longest ago');
  t.equal(await d.begin('c1'), 'a1', 'an open conversation stays with its agent');
  await d.state('a2', 'Login');
  t.equal(await d.begin('c4'), 'a2', 'a2 logged in with none');
  await d.state('a1', 'Disconnect');
  t.equal(await d.begin('c3'), 'a1', 'an open conversation stays with its agent while they are away');
  t.equal(await d.begin('c5'), 'a3', 'a disconnected agent gets no new customer');
});

t.test('nobody online, or everyone full: the customer waits, in the order they came, and goes first when a place frees', async (t) => {
  const d = desk(['a1'], { maxOpen: 2 });
  t.equal(await d.begin('c1'), 'a1');
  t.equal(await d.begin('c2'), 'a1');
  t.equal(await d.begin('c3'), undefined, 'a1 is full: c3 waits');
  t.equal(await d.begin('c4'), undefined, 'c4 waits behind c3');
  t.same(await d.waiting(), ['c3', 'c4']);
  t.equal(await d.begin('c3'), undefined, 'still full: c3 keeps its place');
  await d.load.release('c1'); // c1 unfollows: a place frees
  t.equal(await d.begin('c4'), undefined, 'c4 may not take the place c3 waits for');
  t.equal(await d.begin('c5'), undefined, 'nor may a newcomer');
  t.equal(await d.begin('c3'), 'a1', 'c3, first in the queue, gets it');
  t.same(await d.waiting(), ['c4', 'c5']);
  await d.state('a1', 'Logout');
  await d.load.release('c2');
  t.equal(await d.begin('c4'), undefined, 'a place, but its agent logged out: c4 waits on');
  await d.state('a1', 'Login');
  t.equal(await d.begin('c4'), 'a1', 'a1 back: c4 gets the place');
  t.same(await d.waiting(), ['c5']);
});

t.test('a waiting customer whose job stopped looking holds no place; an unfollow leaves the queue', async (t) => {
  const d = desk(['a1'], { maxOpen: 1, staleMs: 1000 });
  t.equal(await d.begin('c1'), 'a1');
  t.equal(await d.begin('c2'), undefined);
  t.equal(await d.begin('c3'), undefined);
  await d.load.release('c3');
  t.same(await d.waiting(), ['c2'], 'the unfollow left the queue');
  await redis.hset(d.keys.deskWaitingSeen, 'c2', String(Date.now() - 5000)); // c2's job was removed by hand
  await d.load.release('c1');
  t.equal(await d.begin('c4'), 'a1', 'c2 no longer looks: c4 takes the place');
  t.same(await d.waiting(), []);
});

t.test('a waiting customer whose job is still on its way keeps their place while a busy queue keeps it from looking', async (t) => {
  const d = desk(['a1'], { maxOpen: 1, staleMs: 1000 });
  t.equal(await d.begin('c1'), 'a1');
  const c2 = await d.look('c2');
  t.equal(c2.agent, undefined, 'c2 waits');
  // c2's job was due to look again long ago, but sits behind a backlog in the queue.
  await redis.hset(d.keys.deskWaitingSeen, 'c2', String(Date.now() - 5000));
  await d.load.release('c1');
  t.equal(await d.begin('c4'), undefined, 'a newcomer does not take the place c2 waits for');
  t.same(await d.waiting(), ['c2', 'c4']);
  const served = await d.look('c2', c2.id);
  t.equal(served.agent, 'a1', 'c2 gets it when its job comes');
  t.ok(served.waitEndedAt !== undefined && Math.abs(served.waitEndedAt - Date.now()) < 2000, 'its wait ended now: its messages could go no sooner');
  const fresh = await desk(['a1']).look('c9');
  t.equal(fresh.agent, 'a1');
  t.equal(fresh.waitEndedAt, undefined, 'a conversation that never waited has no wait to end (its delay in the queue counts)');
});

t.test('a waiting customer whose job has not looked for ten times the stale limit holds no place, even with the job still there', async (t) => {
  const d = desk(['a1'], { maxOpen: 1, staleMs: 1000 });
  t.equal(await d.begin('c1'), 'a1');
  t.equal((await d.look('c2')).agent, undefined, 'c2 waits');
  // Its worker stopped, or its queue paused, for long: its job is there and never looks.
  await redis.hset(d.keys.deskWaitingSeen, 'c2', String(Date.now() - 11_000));
  await d.load.release('c1');
  t.equal(await d.begin('c4'), 'a1', 'a newcomer takes the place');
  t.same(await d.waiting(), []);
});

t.test('a conversation idle past CLOSE_AFTER_IDLE frees its place; a returning customer gets their agent back first', async (t) => {
  const d = desk(['a1', 'a2'], { maxOpen: 1 });
  t.equal(await d.begin('c1'), 'a1');
  t.equal(await d.begin('c2'), 'a2');
  t.equal(await d.begin('c3'), undefined, 'both full');
  await redis.zadd(d.keys.deskActive, String(Date.now() - 49 * HOUR), 'c1'); // c1 last wrote 49 hours ago
  t.equal(await d.begin('c3'), 'a1', 'c1’s conversation closed: c3 takes a1');
  t.equal(Number(await redis.zscore(d.keys.agentLoad, 'a1')), 1, 'a1 counts c3 only');
  t.equal(await d.begin('c1'), undefined, 'c1 writes again: a new conversation, and both are full');
  await d.load.release('c2');
  t.equal(await d.begin('c1'), 'a2', 'c1 gets the free place');
  await d.load.release('c1');
  await d.load.release('c3');
  t.equal(await d.begin('c1'), 'a2', 'with both free, c1 goes back to a2, their agent before');
});

t.test('a customer whose agent left IM_AGENTS goes to another, and the old agent’s load drops', async (t) => {
  const d = desk(['a1', 'a2']);
  t.equal(await d.begin('c1'), 'a1');
  // The same prefix with a1 gone from the configuration.
  const moved = new RelayTurn(redis, d.keys, 'wechat-inbound', ['a2'], { maxOpen: 20, idleMs: 48 * HOUR, staleMs: 120_000 });
  const id = 'moved1';
  await redis.hset(`${d.keys.jobs('wechat-inbound')}${id}`, 'name', 'text');
  await new ConversationLine(redis, d.keys, 'wechat-inbound', d.keys.relayIds).append('c1', id);
  const begun = await moved.begin('c1', id, 'open');
  t.equal(begun.turn === 'head' ? begun.customer.agent : 'x', 'a2');
  t.same(await redis.zrange(d.keys.agentLoad, 0, -1, 'WITHSCORES'), ['a1', '0', 'a2', '1']);
});

t.test('an event of a customer whose agent left IM_AGENTS closes that conversation, so the old agent’s load drops', async (t) => {
  const d = desk(['a1', 'a2']);
  t.equal(await d.begin('c1'), 'a1');
  // The same prefix with a1 gone from the configuration (a deploy, or a pod still on the old list).
  const moved = new RelayTurn(redis, d.keys, 'wechat-inbound', ['a2'], { maxOpen: 20, idleMs: 48 * HOUR, staleMs: 120_000 });
  const id = 'click1';
  await redis.hset(`${d.keys.jobs('wechat-inbound')}${id}`, 'name', 'click');
  await new ConversationLine(redis, d.keys, 'wechat-inbound', d.keys.relayIds).append('c1', id);
  const begun = await moved.begin('c1', id, 'attach');
  t.equal(begun.turn === 'head' ? begun.customer.agent : 'x', 'a2', 'the click goes to a configured agent');
  t.same(await redis.zrange(d.keys.agentLoad, 0, -1, 'WITHSCORES'), ['a1', '0'], 'a1’s place freed; a click opens none');
  t.equal(await redis.zscore(d.keys.deskActive, 'c1'), null, 'no longer an open conversation');
});

t.test('a message retried after its agent left IM_AGENTS goes to another, as a message of its own to them', async (t) => {
  const d = desk(['a1', 'a2']);
  const policy = { maxOpen: 20, idleMs: 48 * HOUR, staleMs: 120_000 };
  const id = 'retried1';
  await redis.hset(`${d.keys.jobs('wechat-inbound')}${id}`, 'name', 'text');
  await new ConversationLine(redis, d.keys, 'wechat-inbound', d.keys.relayIds).append('c1', id);
  const first = await new RelayTurn(redis, d.keys, 'wechat-inbound', ['a1', 'a2'], policy).begin('c1', id, 'open');
  t.equal(first.turn === 'head' ? first.customer.agent : 'x', 'a1', 'its first attempt went to a1 (and failed)');
  // Redeployed without a1; the job is retried.
  const again = await new RelayTurn(redis, d.keys, 'wechat-inbound', ['a2'], policy).begin('c1', id, 'open');
  t.equal(again.turn === 'head' ? again.customer.agent : 'x', 'a2', 'the retry goes to an agent of IM_AGENTS');
  t.equal(again.turn === 'head' ? again.firstAgent : 'x', 'a1', 'and knows its first attempt went to a1 (new ids for a2)');
  t.same(await redis.zrange(d.keys.agentLoad, 0, -1, 'WITHSCORES'), ['a1', '0', 'a2', '1'], "a1's load dropped");
});

t.test('a customer whose conversation went idle past CLOSE_AFTER_IDLE starts a new one when they write again', async (t) => {
  const d = desk(['a1', 'a2']);
  t.equal(await d.begin('c1'), 'a1');
  await d.state('a1', 'Logout');
  t.equal(await d.begin('c1'), 'a1', 'open: it stays with a1 while a1 is away');
  await redis.zadd(d.keys.deskActive, String(Date.now() - 49 * HOUR), 'c1');
  t.equal(await d.begin('c1'), 'a2', 'idle for 49 hours: a new conversation, with an agent online');
  t.same(await redis.zrange(d.keys.agentLoad, 0, -1, 'WITHSCORES'), ['a1', '0', 'a2', '1']);
});

t.test('after the upgrade the old counts of followers are dropped once; an old customer starts a new conversation, their agent first', async (t) => {
  const d = desk(['a1', 'a2'], { maxOpen: 2 });
  // What the release before left: every follower counted towards their agent, none in the desk's active set.
  await redis.zadd(d.keys.agentLoad, '30', 'a1', '25', 'a2');
  await redis.hset(d.keys.customer('old1'), 'agent', 'a2', 'counted', '1');
  t.equal(await d.begin('new1'), 'a1', 'a new customer gets an agent: the old counts are gone');
  t.equal(await d.begin('old1'), 'a2', 'the old customer goes back to their agent, in a new conversation');
  t.same(await redis.zrange(d.keys.agentLoad, 0, -1, 'WITHSCORES'), ['a1', '1', 'a2', '1']);
  await redis.zadd(d.keys.agentLoad, '30', 'a1');
  t.equal(await d.begin('new2'), 'a2', 'dropped once only: counts the desk made stand');
});

t.test('an event (a follow, a menu click) goes to an agent without opening a conversation, and never waits', async (t) => {
  const d = desk(['a1', 'a2'], { maxOpen: 1 });
  const turnOf = new RelayTurn(redis, d.keys, 'wechat-inbound', ['a1', 'a2'], { maxOpen: 1, idleMs: 48 * HOUR, staleMs: 120_000 });
  const line = new ConversationLine(redis, d.keys, 'wechat-inbound', d.keys.relayIds);
  const attach = async (openid: string, id: string) => {
    await redis.hset(`${d.keys.jobs('wechat-inbound')}${id}`, 'name', 'subscribe');
    await line.append(openid, id);
    const begun = await turnOf.begin(openid, id, 'attach');
    await redis.hset(`${d.keys.jobs('wechat-inbound')}${id}`, 'finishedOn', '1');
    await line.finish(openid, id);
    return begun.turn === 'head' ? begun.customer.agent : 'not at the head';
  };
  t.equal(await d.begin('c1'), 'a1');
  t.equal(await d.begin('c2'), 'a2', 'both full now');
  t.equal(await attach('f1', 'follow-1'), 'a1', 'a follow reaches an agent even with every agent full');
  t.same(await redis.zrange(d.keys.agentLoad, 0, -1, 'WITHSCORES'), ['a1', '1', 'a2', '1'], 'and takes no place');
  t.same(await d.waiting(), [], 'nor waits');
  await d.load.release('c1');
  t.equal(await d.begin('f1'), 'a1', 'the follower’s first message opens a conversation with that agent');
});

t.test('/transfer and /close act only on an open conversation', async (t) => {
  const d = desk(['a1', 'a2'], { maxOpen: 1 });
  t.equal(await d.begin('c1'), 'a1');
  await d.load.release('c1');
  const scripts = relayScripts(redis);
  const k = d.keys;
  const transfer = await scripts.wximDeskTransfer(
    k.customer('c1'),
    k.agentLoad,
    k.agentState,
    k.deskActive,
    k.agentLastAssigned,
    'progress-1',
    k.deskLoadsOwn,
    k.carriedLoad,
    k.carriedLoadsOwn,
    'c1',
    'a1',
    'a2',
    '1',
    String(Date.now()),
    'a1',
    'a2',
  );
  t.same(transfer, ['not_open'], 'a closed conversation is not handed on');
  const close = await scripts.wximDeskClose(
    k.customer('c1'),
    k.agentLoad,
    k.deskActive,
    'progress-2',
    k.deskLoadsOwn,
    k.carriedLoad,
    k.carriedLoadsOwn,
    k.deskUnanswered,
    'c1',
    'a1',
  );
  t.same(close, ['not_open'], 'nor closed again');
  t.same(await redis.zrange(k.agentLoad, 0, -1, 'WITHSCORES'), ['a1', '0'], 'loads untouched');
});

/** Account `id`'s keys where accounts share the IM app whose loads are under `app` (as accountKeys makes them). */
const sharing = (base: string, id: string, app: string) =>
  stateKeys(id === 'one' ? base : `${base}/${id}`, { at: app, from: id === 'one' ? base : `${base}/${id}` });

t.test('accounts that share an IM app count its agents’ open conversations together; an account’s own count from before joins once', async (t) => {
  const base = testPrefix();
  const app = `${base}:im-app:1400000001`;
  const [one, two] = [desk(['a1', 'a2'], { maxOpen: 2 }, sharing(base, 'one', app)), desk(['a1', 'a2'], { maxOpen: 2 }, sharing(base, 'two', app))];
  const loads = () => redis.zrange(one.keys.agentLoad, 0, -1, 'WITHSCORES');
  t.equal(two.keys.agentLoad, one.keys.agentLoad, 'one load for the app');
  t.equal(one.keys.agentLoad, `${app}:agent-load`, "under the app's own prefix");
  t.not(two.keys.carriedLoad, two.keys.agentLoad, "the second account's own count is apart");
  // The release before counted each account apart: account two's customer b0 is open with a2.
  await redis.set(two.keys.carriedLoadsOwn, '1');
  await redis.zadd(two.keys.carriedLoad, '1', 'a2');
  await redis.hset(two.keys.customer('b0'), 'agent', 'a2', 'counted', '1');
  await redis.zadd(two.keys.deskActive, Date.now(), 'b0');
  t.equal(await one.begin('c1'), 'a1');
  t.equal(await one.begin('c2'), 'a2');
  t.equal(await one.begin('c3'), 'a1', 'account one alone: a2 has room for one more');
  // Counted apart, account two would see a1 free (0 of 2) and a2 with one.
  t.equal(await two.begin('b1'), undefined, "with account two's b0 counted in, both agents are full: account two's customer waits");
  t.same(await loads(), ['a1', '2', 'a2', '2'], "account two's own count joined the app's");
  t.equal(await redis.exists(two.keys.carriedLoad), 0, 'and is gone');
  await two.load.release('b0');
  t.equal(await two.begin('b1'), 'a2', 'a place freed in account two');
  t.equal(await one.begin('c4'), undefined, 'taken by account two: account one’s next customer waits');
  // A process of the release before, still running while the upgrade rolls out, counted on its own: carried again.
  await redis.zadd(two.keys.carriedLoad, '1', 'a1');
  await one.load.release('c1');
  t.equal(await two.begin('b2'), undefined, 'the late count joined: a1 is full again');
  t.same(await loads(), ['a1', '2', 'a2', '2']);
  t.equal(await redis.exists(two.keys.carriedLoad), 0);
  await one.load.release('c3');
  t.equal(await two.begin('b2'), 'a1', "a place freed by account one's close goes to account two's customer who asks");
  t.same(await loads(), ['a1', '2', 'a2', '2']);

  // Account one leaves the app: account two, alone on it, counts under its own prefix again, the app's count carried back.
  const alone = desk(['a1', 'a2'], { maxOpen: 2 }, stateKeys(`${base}/two`, { at: `${base}/two`, from: app }));
  t.equal(await alone.begin('b3'), undefined, 'nothing lost on the way: both agents still full');
  t.same(await redis.zrange(alone.keys.agentLoad, 0, -1, 'WITHSCORES'), ['a1', '2', 'a2', '2']);
  t.equal(await redis.exists(`${app}:agent-load`), 0);
  // Counted afresh (as the im-worker does at start), only account two's own open conversations count: b1 and b2.
  t.equal(await alone.load.recount([{ keys: stateKeys(`${base}/two`) }], [`${app}:agent-load`, stateKeys(base).agentLoad]), 2);
  t.same(await redis.zrange(alone.keys.agentLoad, 0, -1, 'WITHSCORES'), ['a1', '1', 'a2', '1'], "account one's conversations no longer count");
  t.equal(await alone.begin('b3'), 'a2', 'so account two has room again (with the agent idle longest)');
});

t.test('counting afresh: every open conversation of the accounts of an app, and nothing else, whatever the counts were', async (t) => {
  const base = testPrefix();
  const app = `${base}:im-app:1400000002`;
  const [one, two] = [desk(['a1', 'a2'], { maxOpen: 5 }, sharing(base, 'one', app)), desk(['a1', 'a2'], { maxOpen: 5 }, sharing(base, 'two', app))];
  for (const c of ['c1', 'c2', 'c3']) await one.begin(c);
  for (const b of ['b1', 'b2']) await two.begin(b);
  await one.load.release('c2');
  const truth = await redis.zrange(one.keys.agentLoad, 0, -1, 'WITHSCORES');
  t.same(truth, ['a2', '1', 'a1', '3'], 'four open conversations: c1, c3 and b2 with a1, b1 with a2');
  const accounts = [{ keys: stateKeys(base) }, { keys: stateKeys(`${base}/two`) }];
  t.equal(await one.load.drift(accounts), 0, 'the counts agree with the open conversations');
  // Counts gone wrong: a phantom, a lost count, and a count left where an account kept it before.
  await redis.zadd(one.keys.agentLoad, '9', 'a1', '0', 'a2', '3', 'gone');
  await redis.zadd(two.keys.carriedLoad, '4', 'a2');
  await redis.hset(one.keys.customer('never-open'), 'agent', 'a1', 'counted', '1'); // counted by a release before the desk, never in active
  t.equal(await one.load.drift(accounts), 6 + 1 + 3, "off by 10: a1 by 6, a2 by 1, the phantom's 3");
  t.same(await redis.zrange(one.keys.agentLoad, 0, -1, 'WITHSCORES'), ['a2', '0', 'gone', '3', 'a1', '9'], 'looking changed nothing');
  t.equal(await one.load.recount(accounts, [stateKeys(base).agentLoad, stateKeys(`${base}/two`).agentLoad, `${app}:agent-load`]), 4);
  t.same(await redis.zrange(one.keys.agentLoad, 0, -1, 'WITHSCORES'), truth, 'the true counts');
  t.equal(await one.load.drift(accounts), 0, 'none once counted afresh');
  t.equal(await redis.exists(two.keys.carriedLoad), 0, 'the old place dropped, not carried again');
  t.equal(await redis.get(one.keys.deskLoadsOwn), '1', "the count is the desk's own: not dropped by the next script");
  t.equal(await two.begin('b3'), 'a2', 'and the desk goes on from it (a2 has the fewest)');
});

t.test('accounts that share an IM app serve their waiting customers in the order they began to wait, whichever account they wrote to', async (t) => {
  const base = testPrefix();
  const app = `${base}:im-app:1400000003`;
  const [keysOne, keysTwo] = [sharing(base, 'one', app), sharing(base, 'two', app)];
  const one = desk(['a1'], { maxOpen: 1 }, keysOne, [keysTwo]);
  const two = desk(['a1'], { maxOpen: 1 }, keysTwo, [keysOne]);
  t.equal(await one.begin('c1'), 'a1');
  t.equal(await two.begin('b1'), undefined, 'a1 is full: account two’s customer waits');
  // c1's conversation has gone idle past CLOSE_AFTER_IDLE: the next look in account one frees a1's place.
  await redis.zadd(keysOne.deskActive, String(Date.now() - 49 * HOUR), 'c1');
  // (On a fast machine c2 asks in the millisecond b1 began to wait: a newcomer still goes behind.)
  t.equal(await one.begin('c2'), undefined, 'a newcomer of account one waits behind account two’s customer, who waited longer');
  t.same(await redis.zrange(keysOne.agentLoad, 0, -1, 'WITHSCORES'), ['a1', '0'], 'though the place is free');
  t.equal(await two.begin('b1'), 'a1', 'account two’s customer takes it when they next look');
  t.equal(await one.begin('c2'), undefined, 'and account one’s still waits');
  // A waiting customer of the other account whose job stopped looking holds no place.
  await redis.hset(keysTwo.deskWaitingSeen, 'b-gone', '1');
  await redis.zadd(keysTwo.deskWaiting, '1', 'b-gone');
  await two.load.release('b1');
  t.equal(await one.begin('c2'), 'a1', 'the place goes to account one’s customer: the stale one of account two was passed over');
  t.equal(await redis.zscore(keysTwo.deskWaiting, 'b-gone'), null, 'and left the line');
});
