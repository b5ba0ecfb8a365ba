import { setTimeout as sleep } from 'node:timers/promises';
import { FleetLock, type HeldLock } from '@wxim/state';
import { betweenCommands, startTestRedis, testPrefix } from '@wxim/testkit';
import { Redis } from 'ioredis';
import t from 'tap';

const server = await startTestRedis();
const redis = new Redis(server.url);
t.teardown(async () => {
  redis.disconnect();
  await server.close();
});

t.test("an instance whose lock expired and was taken by another neither frees nor extends the other's lock", async (t) => {
  const key = `${testPrefix()}:lock`;
  const first = await new FleetLock(redis, key, 100).take();
  t.ok(first, 'the first instance takes the lock');
  t.equal(await new FleetLock(redis, key, 60_000).take(), undefined, 'no other takes it while it is held');
  await sleep(200);
  const other = await new FleetLock(redis, key, 60_000).take();
  t.ok(other, 'once expired, another instance takes it');
  await t.rejects(first!.keep(), /was lost/, 'the first learns it lost the lock');
  t.ok((await redis.pttl(key)) > 50_000, "the other's lock keeps its lifetime");
  await first!.release();
  t.equal(await new FleetLock(redis, key, 60_000).take(), undefined, "the first's release leaves the other's lock held");
  await other!.keep();
  await other!.release();
  t.equal(await redis.exists(key), 0, 'its owner frees it');
});

t.test("a lock that expires and is taken by another while its holder releases it stays the other's", async (t) => {
  const key = `${testPrefix()}:lock`;
  let other: HeldLock | undefined;
  // Between the holder's commands on the lock, its lock expires and another instance takes it.
  const holderRedis = betweenCommands(server.url, key, async () => {
    await redis.del(key);
    other = await new FleetLock(redis, key, 60_000).take();
  });
  t.teardown(() => holderRedis.disconnect());
  const held = await new FleetLock(holderRedis, key, 60_000).take();
  t.ok(held, 'the holder takes the lock');
  await held!.release();
  t.ok(other, 'another instance took the lock meanwhile');
  t.equal(await new FleetLock(redis, key, 60_000).take(), undefined, "the other's lock is still held");
});
