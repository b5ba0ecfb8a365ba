import { ConversationLine, stateKeys } from '@wxim/state';
import { queueLayout } from '@wxim/queue';
import { startTestRedis, testPrefix } from '@wxim/testkit';
import { Redis } from 'ioredis';
import t from 'tap';

// The agent's messages sent just before a reply go ahead of it, whichever was stored first (see
// the pusher's afterEarlierMessages): the line moves or keeps their places, never a begun head's.
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
  return {
    keys,
    jobs,
    layout: queueLayout(prefix, 'agent-replies'),
    job: (id: string) => redis.hset(`${jobs}${id}`, 'name', 'reply'),
    line: new ConversationLine(redis, keys, 'agent-replies', keys.replyProgress),
    order: async () => redis.zrange(keys.line('agent-replies', 'o1'), 0, -1),
  };
}

t.test('one stored behind the head moves ahead of it, in the order given, and is woken if it stepped aside', async (t) => {
  const { job, line, layout, order } = setup();
  for (const id of ['r3', 'r1', 'r2', 'r4']) {
    await job(id);
    await line.append('o1', id);
  }
  await redis.zadd(layout.delayed, Date.now() + 60_000, 'r1'); // stepped aside for r3's turn
  t.same(await line.placeAhead('o1', 'r3', ['r1', 'r2'], 6000), ['r1', 'r2'], 'both go first');
  t.same(await order(), ['r1', 'r2', 'r3', 'r4'], "the agent's order; the one stored after stays behind");
  t.equal(await line.turn('o1', 'r1'), 'head');
  t.same(await redis.lrange(layout.wait, 0, -1), ['r1'], 'the new head woken');
});

t.test('one not stored yet has its place kept ahead, which its append takes; a place given up is not', async (t) => {
  const { keys, job, line, order } = setup();
  await job('r2');
  await line.append('o1', 'r2');
  t.same(await line.placeAhead('o1', 'r2', ['r1', 'r0'], 6000), ['r1', 'r0'], 'both awaited');
  t.same(await order(), ['r2'], 'no job in line for them yet');
  await job('r1');
  t.ok(await line.append('o1', 'r1'));
  t.same(await order(), ['r1', 'r2'], 'stored late, it goes first');
  const kept = keys.lineAhead('agent-replies', 'o1');
  t.ok((await redis.pttl(kept)) > 0, 'a kept place expires');
  await line.forgetAhead('o1', ['r0']);
  await job('r0');
  await line.append('o1', 'r0');
  t.same(await order(), ['r1', 'r2', 'r0'], 'its wait given up, it joins the end');
});

t.test('one done or gone is passed over; nothing moves unless the job named is the head', async (t) => {
  const { jobs, job, line, order } = setup();
  for (const id of ['r1', 'r2', 'r3']) {
    await job(id);
    await line.append('o1', id);
  }
  t.same(await line.placeAhead('o1', 'r2', ['r3'], 6000), [], 'r2 waits behind r1: not its to move');
  await redis.hset(`${jobs}r1`, 'finishedOn', '1');
  await line.finish('o1', 'r1');
  await redis.set(`${jobs}de:r0`, 'r0'); // stored and delivered, its job removed by retention
  t.same(await line.placeAhead('o1', 'r2', ['r0', 'r1'], 6000), [], 'delivered ones are not waited for');
  t.same(await order(), ['r2', 'r3']);
});
