// Removing jobs by hand (the dashboard's remove and clean): finished jobs only, each keeping its
// deduplication key, on a real Redis with the pinned BullMQ.
import { cleanByHand, dedupeKey, removeByHand } from '@wxim/queue';
import { eventually, startTestRedis, testPrefix } from '@wxim/testkit';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import t from 'tap';

const server = await startTestRedis();
t.teardown(() => server.close());
const redis = new Redis(server.url);
t.teardown(() => redis.disconnect());

t.test('finished jobs are removed with their deduplication kept; jobs still to run are not removed', async (t) => {
  const queue = new Queue('by-hand', { connection: redis, prefix: testPrefix() });
  t.teardown(() => queue.close());
  const add = (id: string, delay?: number) => queue.add('job', { id }, { jobId: id, deduplication: { id, ttl: 600_000 }, ...(delay ? { delay } : {}) });
  await add('job-done');
  await add('job-failed');
  const waiting = await add('job-waiting', 600_000);
  // Finished by a worker: one completed, one failed for good.
  const worker = new Worker(
    'by-hand',
    async (job) => {
      if (job.id === 'job-failed') throw new UnrecoverableError('refused for good');
    },
    { connection: new Redis(server.url, { maxRetriesPerRequest: null }), prefix: queue.opts.prefix! },
  );
  t.teardown(async () => {
    await worker.close();
    await worker.disconnect();
  });
  await eventually('both finished', async () => (await queue.getJobCounts('completed', 'failed')).completed === 1 && (await queue.getFailedCount()) === 1);
  t.equal(await removeByHand(queue, waiting), false, 'a delayed job stays');
  t.equal(await waiting.getState(), 'delayed');
  t.equal(await cleanByHand(queue, 'completed', 0), 1, 'the completed job removed');
  t.equal(await removeByHand(queue, (await queue.getJob('job-failed'))!), true, 'the failed job removed');
  for (const id of ['job-done', 'job-failed']) {
    t.equal(await queue.getJob(id), undefined, `${id}: gone`);
    t.ok((await redis.pttl(dedupeKey(queue.toKey(''), id))) > 0, `${id}: its deduplication kept`);
    const again = await queue.add('job', { id }, { jobId: id, deduplication: { id, ttl: 600_000 } });
    t.equal(await queue.getJob(id), undefined, `${id}: stored again, it is not (BullMQ answers ${again.id})`);
  }
});
