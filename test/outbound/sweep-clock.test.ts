import { textElem } from '@wxim/im';
import { stateKeys } from '@wxim/state';
import { sweptByHandForTests } from '@wxim/testkit';
import t from 'tap';

// Each instance of im-callback may run the fleet's sweep, and their clocks need not agree. The
// sweep's cursor (how far IM's history was looked through) is kept on Redis's clock: an instance
// whose own clock ran an hour ahead must not move it an hour past what any sweep looked through,
// or the replies of that hour whose callbacks never came would be found by no sweep.
// Sweeps are run by hand here (1 s period, 300 ms settle).
const { relay, sweep, redis } = await sweptByHandForTests(t);
const { im } = relay;
const keys = stateKeys(relay.env['QUEUE_PREFIX']!);
const HOUR = 3600_000;

/** Runs `fn` as an instance whose own clock is `aheadMs` ahead of the machine's (and Redis's). */
async function withClockAhead<T>(aheadMs: number, fn: () => Promise<T>): Promise<T> {
  const realNow = Date.now.bind(Date);
  Date.now = () => realNow() + aheadMs;
  try {
    return await fn();
  } finally {
    Date.now = realNow;
  }
}

t.test("an instance whose clock runs an hour ahead sweeps up to Redis's now: a reply missed after it is found by the next sweep", async (t) => {
  await redis.hset(keys.callbackSweep, 'cursor', Date.now() - 5000);
  await withClockAhead(HOUR, () => sweep.runIfDue());
  const cursor = Number(await redis.hget(keys.callbackSweep, 'cursor'));
  t.ok(cursor <= Date.now(), `the cursor is not in the future (${cursor - Date.now()} ms from now)`);
  t.ok(cursor >= Date.now() - 5000, 'it moved on: the sweep ran');

  const c = await relay.newCustomer();
  im.callbackLost(1);
  await im.agentSend(c.agent, c.userId, [textElem('sent while the callbacks were cut')]);
  t.equal(await sweep.runIfDue(Date.now() + 1500), 1, 'the next sweep, on a clock that is right, finds it');
  await relay.waitForSent(c.openid, 1, 15_000);
});

t.test("the sweep's lag is read on Redis's clock: an instance whose clock runs ahead does not report it behind", async (t) => {
  await redis.hset(keys.callbackSweep, 'cursor', Date.now() - 5000);
  const text = await withClockAhead(HOUR, async () => (await relay.callback.app.inject({ method: 'GET', url: '/metrics' })).body);
  const lag = Number(/^wxim_callback_sweep_lag_seconds (\S+)$/m.exec(text)?.[1]);
  t.ok(lag >= 5 && lag < 60, `lag ${lag} s: the five seconds since the cursor, not an hour more`);
});
