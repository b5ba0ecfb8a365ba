import { ConversationLine, LockLostError, stateKeys } from '@wxim/state';
import { queueLayout } from '@wxim/queue';
import { startTestRedis, testPrefix } from '@wxim/testkit';
import { Redis } from 'ioredis';
import t from 'tap';

// The agent's messages sent just before a reply go ahead of it, whichever was stored first (see
// the pusher's afterEarlierMessages): the line moves or keeps their places, never past a head
// that is not waiting for them.
const server = await startTestRedis();
const redis = new Redis(server.url);
t.teardown(async () => {
  redis.disconnect();
  await server.close();
});

function setup() {
  const prefix = testPrefix();
  const keys = stateKeys(prefix);
  const jobs = `${prefix}:agent-replies:`;
  const line = new ConversationLine(redis, keys, 'agent-replies', keys.replyProgress);
  return {
    keys,
    jobs,
    line,
    layout: queueLayout(prefix, 'agent-replies'),
    /** A job stored and put in line, as im-callback does. */
    store: async (id: string) => {
      await redis.hset(`${jobs}${id}`, 'name', 'reply');
      return line.append('o1', id);
    },
    order: () => redis.zrange(keys.line('agent-replies', 'o1'), 0, -1),
    kept: () => redis.hkeys(keys.lineAhead('agent-replies', 'o1')),
    /** The head's list of messages to go first, as its confirmation left it. */
    first: async (head: string) => {
      await redis.hset(keys.replyProgress(head), 'first', '[]');
      return async () => redis.hexists(keys.replyProgress(head), 'first');
    },
  };
}

t.test('one stored behind the head moves ahead of it, in the order given, and is woken if it stepped aside', async (t) => {
  const { store, line, layout, order } = setup();
  for (const id of ['r3', 'r1', 'r2', 'r4']) await store(id);
  await redis.zadd(layout.delayed, Date.now() + 60_000, 'r1'); // stepped aside for r3's turn
  t.same(await line.placeAhead('o1', 'r3', ['r1', 'r2'], 6000, true), { moved: ['r1', 'r2'], kept: [] }, 'both go first');
  t.same(await order(), ['r1', 'r2', 'r3', 'r4'], "the agent's order; the one stored after stays behind");
  t.equal(await line.turn('o1', 'r1'), 'head');
  t.same(await redis.lrange(layout.wait, 0, -1), ['r1'], 'the new head woken');
});

t.test('one not stored yet has its place kept ahead while the head waits, which its store takes', async (t) => {
  const { keys, store, line, order, first } = setup();
  await store('r3');
  await store('r1');
  const listed = await first('r3');
  t.same(await line.placeAhead('o1', 'r3', ['r1', 'r2'], 6000, true), { moved: ['r1'], kept: ['r2'] }, 'one moved, one awaited');
  t.same(await order(), ['r1', 'r3']);
  t.ok((await redis.pttl(keys.lineAhead('agent-replies', 'o1'))) > 0, 'a kept place expires');
  t.ok(await listed(), 'the head still has messages to wait for');
  await store('r2');
  t.same(await order(), ['r1', 'r2', 'r3'], 'stored late, it takes its place: the agent’s order');
});

t.test('the head that waits no longer gives the places up: stored later, they join the end', async (t) => {
  const { store, line, order, kept, first } = setup();
  await store('r2');
  const listed = await first('r2');
  t.same(await line.placeAhead('o1', 'r2', ['r1'], 6000, true), { moved: [], kept: ['r1'] });
  t.same(await kept(), ['r1']);
  t.same(await line.placeAhead('o1', 'r2', ['r1'], 6000, false), { moved: [], kept: ['r1'] }, 'still not stored');
  t.same(await kept(), [], 'its place given up in the same step');
  t.notOk(await listed(), 'the head goes: its list dropped');
  await store('r1');
  t.same(await order(), ['r2', 'r1']);
});

t.test('a kept place is not taken once its head is gone (recalled, removed, done)', async (t) => {
  const { jobs, store, line, order } = setup();
  await store('r2');
  t.same(await line.placeAhead('o1', 'r2', ['r1'], 6000, true), { moved: [], kept: ['r1'] });
  await redis.hset(`${jobs}r2`, 'finishedOn', '1'); // recalled while it waited: it ends
  await line.finish('o1', 'r2');
  await store('r5');
  await store('r1');
  t.same(await order(), ['r5', 'r1'], 'the place kept for r2 puts nobody ahead of r5');
});

t.test('one done or gone is passed over; nothing moves unless the job named is the head', async (t) => {
  const { jobs, store, line, order, first } = setup();
  for (const id of ['r1', 'r2', 'r3']) await store(id);
  t.equal(await line.placeAhead('o1', 'r2', ['r3'], 6000, true), undefined, 'r2 waits behind r1: not the head');
  await redis.hset(`${jobs}r1`, 'finishedOn', '1');
  await line.finish('o1', 'r1');
  await redis.set(`${jobs}de:r0`, 'r0'); // stored and delivered, its job removed by retention
  const listed = await first('r2');
  t.same(await line.placeAhead('o1', 'r2', ['r0', 'r1'], 6000, true), { moved: [], kept: [] }, 'delivered ones are not waited for');
  t.notOk(await listed(), 'nothing to wait for: its list dropped');
  t.same(await order(), ['r2', 'r3']);
});

t.test('the head that waits no longer still waits for one moved ahead; a kept place never goes ahead of another head', async (t) => {
  const { keys, store, line, order, first } = setup();
  await store('b');
  await store('m');
  const listed = await first('b');
  t.same(await line.placeAhead('o1', 'b', ['m', 'k'], 6000, false), { moved: ['m'], kept: ['k'] }, 'm moved; no place kept for k');
  t.ok(await listed(), 'b still has m to wait for');
  t.same(await line.placeAhead('o1', 'm', [], 6000, true), { moved: [], kept: [] });
  // b keeps a place for k; meanwhile a job found in IM's history took the head ahead of that place, and may have begun.
  await redis.hset(`${keys.jobs('agent-replies')}a`, 'name', 'reply');
  await redis.zrem(keys.line('agent-replies', 'o1'), 'm');
  t.same(await line.placeAhead('o1', 'b', ['k'], 6000, true), { moved: [], kept: ['k'] });
  const b = Number(await redis.zscore(keys.line('agent-replies', 'o1'), 'b'));
  await redis.zadd(keys.line('agent-replies', 'o1'), b - 0.2, 'a');
  await store('k');
  t.same(await order(), ['a', 'b', 'k'], 'k joins the end rather than pass a');
});

t.test('nothing is put ahead of a head whose lock is not the worker’s, nor of one that has begun to send', async (t) => {
  const { store, line, order, keys, first } = setup();
  for (const id of ['r2', 'r1']) await store(id);
  const lockKey = `${keys.jobs('agent-replies')}r2:lock`;
  await redis.set(lockKey, 'another-worker', 'PX', 30_000);
  await t.rejects(
    line.placeAhead('o1', 'r2', ['r1'], 6000, true, { lockKey, token: 'paused-worker', lockMs: 30_000 }),
    LockLostError,
    'a worker paused past its lock',
  );
  t.same(await order(), ['r2', 'r1'], 'nothing moved');
  t.same(
    await line.placeAhead('o1', 'r2', ['r1'], 6000, true, { lockKey, token: 'another-worker', lockMs: 30_000 }),
    { moved: ['r1'], kept: [] },
    'the worker that holds the lock',
  );
  await line.finish('o1', 'r1', false);
  await redis.hset(`${keys.jobs('agent-replies')}r1`, 'finishedOn', String(Date.now()));
  await store('r0');
  const hasFirst = await first('r2');
  await redis.hset(keys.replyProgress('r2'), 'p0', 'sent'); // its first part went
  t.same(await line.placeAhead('o1', 'r2', ['r0'], 6000, true), { moved: [], kept: [] }, 'begun: nothing goes ahead');
  t.same(await order(), ['r2', 'r0']);
  t.equal(await hasFirst(), 0, 'its list dropped: it goes on');
});

t.test("the customers' pushes keep no places: their appends (the gateway's ack path) never look for one", async (t) => {
  const prefix = testPrefix();
  const keys = stateKeys(prefix);
  const inbound = new ConversationLine(redis, keys, 'wechat-inbound', keys.relayIds);
  await inbound.append('o1', 'p2');
  // A place as a reply's line would keep it, ahead of p2: an inbound append does not read it.
  const head = Number(await redis.zscore(keys.line('wechat-inbound', 'o1'), 'p2'));
  await redis.hset(`${prefix}:wechat-inbound:p2`, 'name', 'push');
  await redis.hset(keys.lineAhead('wechat-inbound', 'o1'), 'p1', `${head - 0.5} p2`);
  await inbound.append('o1', 'p1');
  t.same(await redis.zrange(keys.line('wechat-inbound', 'o1'), 0, -1), ['p2', 'p1'], 'stored order');
  await t.rejects(inbound.placeAhead('o1', 'p2', ['p1'], 6000, true), /keep no places/);
});
