// The durable enqueuer's transaction: on a connection of its own that carries only its scripts,
// with commands besides the store whose results come back to their caller and whose errors never
// count against the store. Real Redis, real BullMQ.
import { type BesidesResults, DEFAULT_JOB_OPTIONS, DurableEnqueuer, type RedisClient, storeConnection } from '@wxim/queue';
import { eventually, startTestRedis, testPrefix } from '@wxim/testkit';
import { Queue } from 'bullmq';
import { type ChainableCommander, Redis } from 'ioredis';
import t, { type Test } from 'tap';

const server = await startTestRedis();
t.teardown(() => server.close());

function onQueue(t: Test) {
  const redis = new Redis(server.url);
  const queue = new Queue('store', { connection: redis, prefix: testPrefix(), defaultJobOptions: DEFAULT_JOB_OPTIONS });
  t.teardown(async () => {
    await queue.close();
    redis.disconnect();
  });
  return { redis, queue };
}

const job = (id: string) => ({ name: 'text', data: { id }, jobId: id, dedupeTtlMs: 60_000 });

/**
 * A Redis of the test's own, to be made a replica for a moment (`admin.replicaof`): it then answers
 * every write READONLY, as mid-failover. Its queue and enqueuer are warm (one job stored), and
 * `recorded(id)` makes a transaction write down its job, in the order the jobs are stored.
 */
async function readOnlyMoment(t: Test) {
  const own = await startTestRedis({ own: true });
  t.teardown(() => own.close());
  const admin = new Redis(own.url);
  t.teardown(() => admin.disconnect());
  const redis = new Redis(own.url);
  const queue = new Queue('store', { connection: redis, prefix: testPrefix(), defaultJobOptions: DEFAULT_JOB_OPTIONS });
  t.teardown(async () => {
    await queue.close();
    redis.disconnect();
  });
  const enqueuer = new DurableEnqueuer(queue, undefined, 5000);
  t.teardown(() => enqueuer.close());
  await enqueuer.enqueue(job('warm'));
  const recorded = (id: string) => (transaction: ChainableCommander) => {
    transaction.rpush('stored-order', id);
    return { commands: 1, settle: () => undefined };
  };
  return { admin, queue, enqueuer, recorded };
}
const scriptsOf = (client: RedisClient) => Object.keys((client as unknown as { scriptsSet: Record<string, unknown> }).scriptsSet);

t.test("the store's connection carries BullMQ's add-job scripts and what its parts define, not the queue's other scripts", async (t) => {
  const { queue } = onQueue(t);
  await queue.waitUntilReady();
  const client = await storeConnection(queue);
  t.teardown(() => client.disconnect());
  const own = scriptsOf(client);
  t.ok(own.length > 0 && own.every((name) => /^add(Standard|Delayed|Prioritized)Job:/.test(name)), `only add-job scripts: ${own.join(', ')}`);
  const shared = scriptsOf(await (queue as unknown as { backend: { client: Promise<RedisClient> } }).backend.client);
  t.ok(shared.length > own.length * 5, `the queue's connection carries many more (${shared.length})`);
  t.equal(client.status, 'ready', 'connected when given');
});

t.test('commands besides the store run in its transaction and their results come back, in order, to each caller', async (t) => {
  const { redis, queue } = onQueue(t);
  const settled = new Map<string, BesidesResults>();
  const enqueuer = new DurableEnqueuer(queue, undefined, 5000, 0, [{ defineOn: () => {} }]);
  t.teardown(() => enqueuer.close());
  const key = `${testPrefix()}:besides`;
  const besides = (id: string) => (transaction: ChainableCommander) => {
    transaction.incr(key).get(key);
    return { commands: 2, settle: (results: BesidesResults) => void settled.set(id, results) };
  };
  // Asked for in the same turn: one transaction for both.
  await Promise.all([enqueuer.enqueue(job('a'), besides('a')), enqueuer.enqueue(job('b'), besides('b'))]);
  t.same(
    settled.get('a'),
    [
      [null, 1],
      [null, '1'],
    ],
    "the first caller's results",
  );
  t.same(
    settled.get('b'),
    [
      [null, 2],
      [null, '2'],
    ],
    "the second caller's, after the first's",
  );
  t.ok(await queue.getJob('a'), 'a stored');
  t.ok(await queue.getJob('b'), 'b stored');
  t.equal(await redis.get(key), '2');
});

t.test("a command besides the store that fails fails alone: the job is stored and the error is its caller's", async (t) => {
  const { redis, queue } = onQueue(t);
  const enqueuer = new DurableEnqueuer(queue, undefined, 5000);
  t.teardown(() => enqueuer.close());
  const key = `${testPrefix()}:a-string`;
  await redis.set(key, 'not a hash');
  let settled: BesidesResults | undefined;
  await enqueuer.enqueue(job('c'), (transaction) => {
    transaction.hget(key, 'field');
    return { commands: 1, settle: (results) => void (settled = results) };
  });
  t.ok(await queue.getJob('c'), 'stored');
  const [err] = settled instanceof Error || settled === undefined ? [] : (settled[0] ?? []);
  t.ok(err instanceof Error, 'its caller got the error');
  t.match((err as Error).message, /WRONGTYPE/);
});

t.test('a store that cannot reach Redis fails, and the commands besides it hear the same error', async (t) => {
  const { queue } = onQueue(t);
  const enqueuer = new DurableEnqueuer(queue, undefined, 2000);
  await queue.waitUntilReady();
  await enqueuer.close(); // its connection is gone: the next transaction fails at once
  let settled: BesidesResults | undefined;
  await t.rejects(
    enqueuer.enqueue(job('d'), (transaction) => {
      transaction.ping();
      return { commands: 1, settle: (results) => void (settled = results) };
    }),
  );
  t.ok(settled instanceof Error, 'told of the error');
  t.equal(await queue.getJob('d'), undefined, 'nothing stored');
});

t.test('a job asked for while an earlier one waits to be tried again (Redis away) is stored after it, not ahead', async (t) => {
  const { admin, queue, enqueuer, recorded } = await readOnlyMoment(t);
  const refusals = async () => Number(/errorstat_READONLY:count=(\d+)/.exec(await admin.info('errorstats'))?.[1] ?? 0);
  await admin.replicaof('127.0.0.1', '1');
  const first = enqueuer.enqueue(job('first'), recorded('first'));
  await eventually('the first store is refused', async () => (await refusals()) > 0, 5000, 5);
  await admin.replicaof('NO', 'ONE');
  // Redis is back before the first job's next try: the second must not go ahead of it.
  const second = enqueuer.enqueue(job('second'), recorded('second'));
  await Promise.all([first, second]);
  t.same(await admin.lrange('stored-order', 0, -1), ['first', 'second'], 'stored in the order asked for');
  t.ok(await queue.getJob('first'));
  t.ok(await queue.getJob('second'));
});

t.test('a job whose store was scheduled just before an earlier one was refused (Redis away) waits behind that one too', async (t) => {
  const { admin, enqueuer, recorded } = await readOnlyMoment(t);
  let second: Promise<void> | undefined;
  // The first store's refusal is heard; in that same turn, before it is set to be tried again,
  // Redis is told to take writes again and the second job is asked for: its store is scheduled.
  const firstThenSecond = (transaction: ChainableCommander) => {
    transaction.rpush('stored-order', 'first');
    return {
      commands: 1,
      settle: (results: BesidesResults) => {
        if (!(results instanceof Error) || second !== undefined) return;
        void admin.replicaof('NO', 'ONE');
        second = enqueuer.enqueue(job('second'), recorded('second'));
      },
    };
  };
  await admin.replicaof('127.0.0.1', '1');
  const first = enqueuer.enqueue(job('first'), firstThenSecond);
  await eventually('the second job is asked for', () => second !== undefined, 5000, 5);
  await Promise.all([first, second]);
  t.same(await admin.lrange('stored-order', 0, -1), ['first', 'second'], 'stored in the order asked for');
});
