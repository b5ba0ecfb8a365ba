import { stateKeys } from '@wxim/state';
import { AGENTS, eventually, sweptByHandForTests } from '@wxim/testkit';
import t, { type Test } from 'tap';

// One instance of im-callback at a time looks through IM's history (a lock the fleet shares, renewed
// as the look goes on). A look owed to a conversation reads it with every agent of IM_AGENTS, one
// call each, which with many agents can outlast the lock: the lock is renewed before each agent's,
// and a look whose lock another instance has taken stops there instead of going on beside it.
// Sweeps are run by hand here (1 s period, 300 ms settle).
const { relay, sweep, redis } = await sweptByHandForTests(t);
const { im } = relay;
const keys = stateKeys(relay.env['QUEUE_PREFIX']!);
const HISTORY = 'openim/admin_getroammsg';
const historyCalls = () => (im.callsPerSecond()[HISTORY] ?? []).reduce((n, [, c]) => n + c, 0);

/**
 * Runs a sweep whose first history call IM answers a second late, and meanwhile gives its lock to
 * another instance: the sweep stops. Resolves to the history calls made before it ran.
 */
async function sweepLosingItsLock(t: Test): Promise<number> {
  const before = historyCalls();
  im.answerLate(HISTORY, 1000);
  const swept = sweep.runIfDue(Date.now() + 1500);
  await eventually('the history call is on its way', () => historyCalls() > before);
  await redis.set(keys.historyLock, 'another-instance', 'PX', 60_000);
  await t.rejects(swept, /lock .* was lost/, 'the sweep stops');
  return before;
}

t.test('a look owed to a conversation stops between agents once another instance holds the lock: it does not go on beside it', async (t) => {
  t.ok(AGENTS.length >= 3, 'an owed look reads several agents');
  const c = await relay.newCustomer();
  await redis.zadd(keys.callbackOwed, Date.now() - 60_000, c.openid);
  const cursor = Date.now() - 5000;
  await redis.hset(keys.callbackSweep, 'cursor', cursor);
  // The first agent's history answers a second late: meanwhile the lock expires and another instance takes it.
  const before = await sweepLosingItsLock(t);
  t.equal(historyCalls() - before, 1, "no other agent's history read after the lock was lost");
  t.equal(Number(await redis.hget(keys.callbackSweep, 'cursor')), cursor, 'the cursor not moved');
  t.ok((await redis.zscore(keys.callbackOwed, c.openid)) !== null, 'the look is still owed');
});

t.test('a sweep that lost its lock during its last look writes nothing after it: the cursor is not moved', async (t) => {
  // The test before left its lock with "another instance", and its conversation owed a look.
  await redis.del(keys.historyLock, keys.callbackOwed);
  await relay.newCustomer();
  const cursor = Date.now() - 5000;
  await redis.hset(keys.callbackSweep, 'cursor', cursor);
  // Its history call answers a second late: meanwhile the lock expires and another instance takes
  // it, and no conversation is left whose look would renew the lock first.
  await sweepLosingItsLock(t);
  t.equal(Number(await redis.hget(keys.callbackSweep, 'cursor')), cursor, 'the cursor not moved');
  await redis.del(keys.historyLock);
});
