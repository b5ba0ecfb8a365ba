import { createRedis } from '@wxim/queue';
import type { Redis } from 'ioredis';
import t from 'tap';
import { startTestRedis } from '@wxim/testkit';

const redis = await startTestRedis();
t.teardown(() => redis.close());

t.test('no connection waits forever on a dead peer: keep-alive and a command timeout on every role, a socket timeout where no command blocks', async (t) => {
  for (const role of ['queue', 'state', 'worker'] as const) {
    const client = createRedis({ redisUrl: redis.url }, role) as Redis;
    t.teardown(() => client.disconnect());
    const { keepAlive, commandTimeout, socketTimeout } = client.options;
    t.ok((keepAlive ?? 0) > 0, `${role}: TCP keep-alive`);
    t.ok((commandTimeout ?? 0) > 10_000 - 1, `${role}: a command without its reply fails after ${commandTimeout} ms`);
    // BullMQ's blocking fetch waits up to 10 s for a job; its connections rely on BullMQ's own watchdog.
    if (role === 'worker') t.ok(commandTimeout! > 10_000, 'worker: longer than a blocking fetch');
    else t.equal(socketTimeout, commandTimeout, `${role}: a connection that owes a reply and hears nothing is made again`);
    if (client.status !== 'ready') await new Promise((r) => client.once('ready', r));
    t.equal(await client.ping(), 'PONG');
  }
});
