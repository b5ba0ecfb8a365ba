import { Redis } from 'ioredis';
import { eventually } from './eventually.js';
import { LocalRedis } from './local-redis.js';

/** A primary (AOF on) and one replica of it, in sync, for one test file: ended with `t`'s teardown. */
export async function startReplicaPair(t: { teardown(fn: () => Promise<void>): void }): Promise<{ primary: LocalRedis; replica: LocalRedis }> {
  const primary = await LocalRedis.start({ appendonly: true });
  const replica = await LocalRedis.start({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  const client = new Redis(replica.url);
  t.teardown(async () => {
    client.disconnect();
    await replica.close();
    await primary.close();
  });
  await eventually('the replica is in sync', async () => /master_link_status:up/.test(await client.info('replication')), 20_000);
  return { primary, replica };
}
