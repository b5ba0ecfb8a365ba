import { FleetCheck } from '@wxim/host';
import { FleetLock, type HeldLock } from '@wxim/state';
import { eventually, startTestRedis, testPrefix } from '@wxim/testkit';
import { Redis } from 'ioredis';
import t from 'tap';

const server = await startTestRedis();
t.teardown(() => server.close());
const redis = new Redis(server.url);
t.teardown(() => redis.disconnect());

/** A check of `steps` steps of `stepMs` each (an IM notice waiting its turn, say), keeping the lock before each. */
class SlowCheck extends FleetCheck<number> {
  done = 0;
  constructor(
    lock: FleetLock,
    private readonly steps: number,
    private readonly stepMs: number,
    readonly outcomes: string[],
    readonly warnings: string[],
  ) {
    super({ everyMs: 20, lock, what: 'the slow check', log: { warn: (_o, m) => warnings.push(m) }, ran: (o) => outcomes.push(o) });
  }
  protected async check(held: HeldLock): Promise<number> {
    for (let i = 0; i < this.steps; i++) {
      await held.keep();
      await new Promise((r) => setTimeout(r, this.stepMs));
      this.done++;
    }
    return this.done;
  }
}

t.test('a stop ends the running check at its next step, not when all its steps are done, and frees the lock', async (t) => {
  const key = `${testPrefix()}:check-lock`;
  const check = new SlowCheck(new FleetLock(redis, key, 60_000), 100, 50, [], []);
  check.start();
  await eventually('the check has begun', () => check.done >= 1);
  const asked = Date.now();
  await check.stop();
  t.ok(Date.now() - asked < 2500, `stopped ${Date.now() - asked} ms after it was asked (the whole check: 5 s)`);
  t.ok(check.done < 10, `${check.done} of 100 steps done`);
  t.same(check.outcomes, [], 'neither done nor failed: cut short by the stop');
  t.same(check.warnings, [], 'nothing to warn of');
  t.equal(await redis.exists(key), 0, 'the lock is free for another instance');
});

t.test('a check that ends by itself is counted done', async (t) => {
  const check = new SlowCheck(new FleetLock(redis, `${testPrefix()}:check-lock`, 60_000), 2, 1, [], []);
  check.start();
  await eventually('a check has run', () => check.outcomes.length > 0);
  await check.stop();
  t.equal(check.outcomes[0], 'done');
});
