import { RelayedMessage, ReplyWindow, stateKeys } from '@wxim/state';
import { testPrefix, testRedisConnection } from '@wxim/testkit';
import t from 'tap';

const { redis } = await testRedisConnection(t);

const HOUR = 60 * 60 * 1000;

/** A customer who wrote at `at` (their window recorded), and the steps that follow with `options`. */
async function wrote(at: number, options: { unanswered: boolean; watch: boolean; watchCap?: number }) {
  const keys = stateKeys(testPrefix());
  await new ReplyWindow(redis, keys).record('o1', 'message', at);
  return { keys, relayed: new RelayedMessage(redis, keys, options) };
}

t.test('both on: the customer waits for an answer from now and their window is watched, in one step', async (t) => {
  const at = Date.now();
  const { keys, relayed } = await wrote(at, { unanswered: true, watch: true });
  const [seconds] = await redis.time();
  t.same(await relayed.relayed('o1', at), { unwatched: 0, agent: undefined }, 'no window went for the cap; nobody serves the customer yet');
  const since = Number(await redis.zscore(keys.deskUnanswered, 'o1'));
  t.ok(Math.abs(since - Number(seconds) * 1000) < 2000, "waiting since now, on Redis's clock");
  t.equal(await redis.zscore(keys.windowWatch, 'o1'), String(at + 48 * HOUR), 'watched until the window closes');
  await redis.zadd(keys.deskUnanswered, '1', 'o1');
  await relayed.relayed('o1', at + 1000);
  t.equal(await redis.zscore(keys.deskUnanswered, 'o1'), '1', 'a customer already waiting keeps waiting since then');
});

t.test('each step only when its setting is on; with both off, nothing is sent', async (t) => {
  const at = Date.now();
  const watchOnly = await wrote(at, { unanswered: false, watch: true });
  await watchOnly.relayed.relayed('o1', at);
  t.equal(await redis.zscore(watchOnly.keys.deskUnanswered, 'o1'), null, 'FIRST_RESPONSE_SLA_S off: no wait recorded');
  t.not(await redis.zscore(watchOnly.keys.windowWatch, 'o1'), null, 'the window watched');
  const markOnly = await wrote(at, { unanswered: true, watch: false });
  t.same(await markOnly.relayed.relayed('o1', at), { unwatched: 0, agent: undefined });
  t.not(await redis.zscore(markOnly.keys.deskUnanswered, 'o1'), null, 'the wait recorded');
  t.equal(await redis.zscore(markOnly.keys.windowWatch, 'o1'), null, 'WINDOW_WARNING_MS off: not watched');
  const off = await wrote(at, { unanswered: false, watch: false });
  t.equal(off.relayed.on, false, 'both off');
  t.same(await off.relayed.relayed('o1', at), { unwatched: 0, agent: undefined });
  t.equal((await redis.exists(off.keys.deskUnanswered)) + (await redis.exists(off.keys.windowWatch)), 0, 'nothing written');
});

t.test('each reads who serves the customer now, whatever is on', async (t) => {
  const at = Date.now();
  for (const options of [
    { unanswered: true, watch: true },
    { unanswered: true, watch: false },
    { unanswered: false, watch: true },
    { unanswered: false, watch: false },
  ]) {
    const { keys, relayed } = await wrote(at, options);
    await redis.hset(keys.customer('o1'), 'agent', 'agent-b');
    t.same(await relayed.relayed('o1', at), { unwatched: 0, agent: 'agent-b' }, `the agent read (${JSON.stringify(options)})`);
  }
});

t.test('the windows that went for the watch cap are counted; an error of either step is thrown', async (t) => {
  const at = Date.now();
  const { keys, relayed } = await wrote(at, { unanswered: true, watch: true, watchCap: 1 });
  await new ReplyWindow(redis, keys).record('o2', 'message', at + 1000);
  await relayed.relayed('o1', at);
  t.equal((await relayed.relayed('o2', at)).unwatched, 1, 'over the cap of one: one window went');
  await redis.set(keys.deskUnanswered, 'not a sorted set');
  await t.rejects(relayed.relayed('o1', at), /WRONGTYPE/, 'the mark failed: the step fails');
});
