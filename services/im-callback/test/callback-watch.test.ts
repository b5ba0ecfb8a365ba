import { CallbackWatch, MARGIN_MS, rangesOf } from '@wxim/im-callback';
import { stateKeys } from '@wxim/state';
import { betweenCommands, onTestRedis, startTestRedis, testPrefix } from '@wxim/testkit';
import { Redis } from 'ioredis';
import t from 'tap';

const BEAT = 50;
const { redisUrl } = await onTestRedis(t, async () => ({ close: async () => {} }));
const redis = new Redis(redisUrl);
t.teardown(() => redis.disconnect());

/** Two instances of one fleet, beating by hand (no timers): what each beat finds is what the test says. */
function fleet() {
  const keys = stateKeys(testPrefix());
  const gapsSeen = { a: 0, b: 0 };
  const a = new CallbackWatch(redis, keys, () => gapsSeen.a++, BEAT);
  const b = new CallbackWatch(redis, keys, () => gapsSeen.b++, BEAT);
  const gaps = async () => (await a.gaps()).map((g) => ({ from: g.from, to: g.to }));
  return { keys, a, b, gapsSeen, gaps };
}
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Four beats of `watch`, a beat apart: more than the three of silence that make another instance dead. */
async function beatsPass(watch: CallbackWatch): Promise<void> {
  for (let i = 0; i < 4; i++) {
    await pause(BEAT);
    await watch.beat();
  }
}

t.test('an instance that stops beating without a clean stop leaves a gap from its last beat, found by another that kept beating', async (t) => {
  const { a, b, gapsSeen, gaps } = fleet();
  t.not(a.id, b.id, 'each instance beats under its own id');
  await a.beat();
  await b.beat();
  const lastOfA = Date.now();
  // a is killed: b keeps the fleet's heartbeat alive, beat after beat.
  await beatsPass(b);
  const found = await gaps();
  t.equal(found.length, 1, 'one gap, for the instance that died');
  t.ok(Math.abs(found[0]!.from - lastOfA) < BEAT, "from the dead instance's last beat");
  t.ok(found[0]!.to - found[0]!.from > 3 * BEAT, 'to when it was found');
  t.ok(gapsSeen.b >= 1, 'the instance that found it starts a recovery');
  await b.beat();
  t.equal((await gaps()).length, 1, 'found once: the dead instance is no longer in the fleet');
});

t.test('an instance that stops cleanly leaves no gap while another keeps running', async (t) => {
  const { a, b, gaps } = fleet();
  await a.beat();
  await b.beat();
  await a.stop();
  await beatsPass(b);
  t.same(await gaps(), []);
});

t.test('an instance killed and started again within a beat: the next start finds the one before it', async (t) => {
  const { keys, a, gaps } = fleet();
  await a.beat();
  // Killed; its successor starts at once (a new id) and is the only instance.
  const next = new CallbackWatch(redis, keys, () => {}, BEAT);
  await next.beat();
  t.same(await gaps(), [], 'not yet: the instance before may still be running');
  await beatsPass(next);
  t.equal((await gaps()).length, 1, 'its silence is a gap once three beats have passed');
});

t.test('the whole fleet stopped cleanly and started again after a while: the time nothing ran is a gap', async (t) => {
  const { keys, a, gaps } = fleet();
  await a.beat();
  await a.stop();
  await pause(2 * BEAT);
  const next = new CallbackWatch(redis, keys, () => {}, BEAT);
  await next.beat();
  t.equal((await gaps()).length, 1);
});

t.test('the only instance stopped cleanly and one started at once: the moment nothing ran is a gap, however short', async (t) => {
  const { keys, a, gaps } = fleet();
  await a.beat();
  await a.stop();
  const next = new CallbackWatch(redis, keys, () => {}, BEAT);
  await next.beat();
  t.equal((await gaps()).length, 1, 'callbacks sent between the two were answered by nobody');
});

t.test('an instance that stops cleanly while another runs leaves no gap, the next start after it neither', async (t) => {
  const { keys, a, b, gaps } = fleet();
  await a.beat();
  await b.beat();
  await a.stop();
  const next = new CallbackWatch(redis, keys, () => {}, BEAT);
  await next.beat();
  t.same(await gaps(), []);
});

t.test('a gap is looked through with a margin either side; gaps that overlap are looked through once', async (t) => {
  const now = Date.now();
  const ranges = rangesOf(
    [
      { from: now - 60_000, to: now - 50_000, member: 'a' },
      { from: now - 55_000, to: now - 40_000, member: 'b' },
      { from: now - 3 * 3600_000, to: now - 3 * 3600_000 + 1000, member: 'c' },
    ],
    now,
  );
  t.same(
    ranges.map((r) => ({ range: r.range, gaps: r.gaps.map((g) => g.member) })),
    [
      { range: { from: now - 3 * 3600_000 - MARGIN_MS, to: now - 3 * 3600_000 + 1000 + MARGIN_MS }, gaps: ['c'] },
      { range: { from: now - 60_000 - MARGIN_MS, to: now - 40_000 + MARGIN_MS }, gaps: ['a', 'b'] },
    ],
  );
});

t.test('a stop stores its gap before it marks itself clean: Redis killed right after the mark, the refused time is still a gap', async (t) => {
  // A Redis of this test's own (AOF, fsync always), killed right after the stop's heartbeat.
  const own = await startTestRedis({ own: true, appendonly: true });
  t.teardown(() => own.close());
  const keys = stateKeys(testPrefix());
  // As im-callback's own connection: nothing queued while Redis is away.
  const conn = betweenCommands(own.url, keys.callbackHeartbeat, () => own.stop(), { enableOfflineQueue: false });
  t.teardown(() => conn.disconnect());
  const watch = new CallbackWatch(conn, keys, () => {}, BEAT);
  const other = new Redis(own.url);
  t.teardown(() => other.disconnect());
  await other.ping();
  // Callbacks were refused while the instance was closing: their time is its gap to store.
  const refusedAt = Date.now();
  watch.closingNow();
  watch.failed(refusedAt);
  await watch.stop(); // gives up after its tries: Redis is gone
  await own.start();
  const after = new Redis(own.url);
  t.teardown(() => after.disconnect());
  const gaps = await after.zrange(keys.callbackGaps, 0, -1);
  t.ok(
    gaps.some((g) => Number(g.split('-')[0]) <= refusedAt && Number(g.split('-')[1]) >= refusedAt),
    `the refused time is a gap (${gaps.join()}): a stop marked clean with its gap lost would leave it to no look`,
  );
});
