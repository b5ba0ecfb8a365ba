import { RelayedMessage, ReplyWindow, stateKeys } from '@wxim/state';
import { testPrefix, testRedisConnection } from '@wxim/testkit';
import t from 'tap';

const { redis } = await testRedisConnection(t);

const HOUR = 60 * 60 * 1000;

/** Customers who wrote at the times given, each watched then, with a watch of `cap` windows. */
async function watched(cap: number, wroteAt: Record<string, number>) {
  const keys = stateKeys(testPrefix());
  const windows = new ReplyWindow(redis, keys);
  const relayed = new RelayedMessage(redis, keys, { unanswered: false, watch: true, watchCap: cap });
  const unwatched: number[] = [];
  for (const [openid, at] of Object.entries(wroteAt)) {
    await windows.record(openid, 'message', at);
    unwatched.push((await relayed.relayed(openid, at)).unwatched);
  }
  return { keys, unwatched, watchedNow: () => redis.zrange(keys.windowWatch, 0, -1) };
}

t.test('windows already closed leave the watch before any open one goes for the cap', async (t) => {
  const now = Date.now();
  // Two wrote 49 hours ago (their windows closed), then three write now, with room for three.
  const w = await watched(3, { old1: now - 49 * HOUR, old2: now - 49 * HOUR, a: now, b: now + 1, c: now + 2 });
  t.same(await w.watchedNow(), ['a', 'b', 'c'], 'the closed ones went, not an open one');
  t.same(w.unwatched, [0, 0, 0, 0, 0], 'no open window went');
});

t.test('over the cap of open windows, those closing last go, and each one that goes is counted', async (t) => {
  const now = Date.now();
  const w = await watched(2, { first: now, second: now + 1000, third: now + 2000 });
  t.same(await w.watchedNow(), ['first', 'second'], 'the soonest warnings are kept');
  t.same(w.unwatched, [0, 0, 1], 'the last one is counted');
});
