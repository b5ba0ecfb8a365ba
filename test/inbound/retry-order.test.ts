import { QUEUES, keyPrefix, retryFailedJobs } from '@wxim/queue';
import { lineOnRetry, stateKeys } from '@wxim/state';
import { startTestRedis, testPrefix } from '@wxim/testkit';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import t from 'tap';

// A retry by hand, on a real Redis with BullMQ: oldest first whatever order the ids were named in,
// each job put in its customer's line before the next is retried (so the order holds whichever
// worker takes which first), and every job not retried named with why.
const server = await startTestRedis();
const redis = new Redis(server.url, { maxRetriesPerRequest: null });
t.teardown(async () => {
  redis.disconnect();
  await server.close();
});

t.test("a customer's failed messages retried by hand stand in their line in the order they came, however they were named", async (t) => {
  const prefix = keyPrefix(testPrefix(), false);
  const keys = stateKeys(prefix);
  const queue = new Queue(QUEUES.wechatInbound, { connection: redis, prefix });
  t.teardown(() => queue.close());
  const openid = 'oRetryOrder00000000000000001';
  const message = (msgId: string, createTime: number) => ({ kind: 'text', fromUserName: openid, toUserName: 'gh_account', createTime, msgId, content: msgId });
  const now = Date.now();
  await queue.add('text', { message: message('1', 1), receivedAt: now }, { jobId: 'first', timestamp: now - 2000 });
  await queue.add('text', { message: message('2', 2), receivedAt: now }, { jobId: 'second', timestamp: now - 1000 });
  // Both fail for good (IM refused them, say), on a worker that then stops.
  const workerConnection = redis.duplicate();
  const worker = new Worker(
    QUEUES.wechatInbound,
    async () => {
      throw new UnrecoverableError('refused');
    },
    { connection: workerConnection, prefix },
  );
  await new Promise<void>((resolve) => {
    let failed = 0;
    worker.on('failed', () => ++failed === 2 && resolve());
  });
  await worker.close();
  workerConnection.disconnect();

  const outcome = await retryFailedJobs(queue, ['second', 'nope', 'first'], lineOnRetry(redis, keys, QUEUES.wechatInbound));
  t.equal(outcome.retried, 2);
  t.same(outcome.skipped, [{ id: 'nope', why: `no such job in ${QUEUES.wechatInbound}` }], 'an id that names no job is said');
  t.same(await redis.zrange(keys.line(QUEUES.wechatInbound, openid), 0, -1), ['first', 'second'], 'in their line, oldest first');
  const again = await retryFailedJobs(queue, ['first']);
  t.same(again, { retried: 0, skipped: [{ id: 'first', why: 'it is waiting, not failed' }] }, 'a job not failed is said, and left as it is');
});
