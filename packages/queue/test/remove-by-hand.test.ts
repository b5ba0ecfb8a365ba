// Removing jobs by hand (the dashboard's remove and clean): finished jobs only, each keeping its
// deduplication key, on a real Redis with the pinned BullMQ.
import { FAILED_KEPT_MS, cleanByHand, dedupeKey, removeByHand, retryFailedJobs, withJobInHand } from '@wxim/queue';
import { eventually, startTestRedis, testPrefix } from '@wxim/testkit';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';

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

/** `count` jobs failed for good in a queue of their own, no worker left to take them again. */
async function failedJobs(t: Test, count: number) {
  const queue = new Queue('by-hand', { connection: redis, prefix: testPrefix() });
  t.teardown(() => queue.close());
  const ids = Array.from({ length: count }, (_, i) => `job-${i}`);
  for (const id of ids) await queue.add('job', { id }, { jobId: id, deduplication: { id, ttl: 600_000 } });
  const worker = new Worker(
    'by-hand',
    async () => {
      throw new UnrecoverableError('refused for good');
    },
    { connection: new Redis(server.url, { maxRetriesPerRequest: null }), prefix: queue.opts.prefix! },
  );
  await eventually('all failed', async () => (await queue.getFailedCount()) === count);
  await worker.close();
  await worker.disconnect();
  return { queue, ids };
}

t.test('a job another hand holds is neither removed nor retried, and is once it is let go', async (t) => {
  const { queue, ids } = await failedJobs(t, 1);
  const id = ids[0]!;
  await withJobInHand(queue, id, async () => {
    t.equal(await removeByHand(queue, (await queue.getJob(id))!), false, 'not removed');
    t.equal(await cleanByHand(queue, 'failed', 0), 0, 'not cleaned');
    const { retried, skipped } = await retryFailedJobs(queue, [id]);
    t.equal(retried, 0, 'not retried');
    t.match(skipped, [{ id, why: /another hand is removing or retrying it/ }]);
    t.equal(await (await queue.getJob(id))?.getState(), 'failed', 'still failed');
  });
  t.same(await retryFailedJobs(queue, [id]), { retried: 1, skipped: [] }, 'let go: retried');
  t.equal(await (await queue.getJob(id))?.getState(), 'waiting');
});

t.test('a removal and a retry of the same failed jobs at the same moment: every job is retried or removed, never both', async (t) => {
  const { queue, ids } = await failedJobs(t, 50);
  const results = await Promise.all(
    ids.map(async (id) => {
      const job = (await queue.getJob(id))!;
      const [removed, outcome] = await Promise.all([removeByHand(queue, job), retryFailedJobs(queue, [id])]);
      return { id, removed, retried: outcome.retried === 1 };
    }),
  );
  for (const r of results) {
    const state = (await (await queue.getJob(r.id))?.getState()) ?? 'gone';
    // A retried job that is gone was removed after it was put back to run: its message lost.
    t.notOk(r.removed && r.retried, `${r.id}: not both (removed ${r.removed}, retried ${r.retried}, now ${state})`);
    t.equal(state, r.retried ? 'waiting' : r.removed ? 'gone' : 'failed', `${r.id}: where its outcome says`);
  }
  t.ok(
    results.some((r) => r.removed || r.retried),
    'the hands did act',
  );
});

t.test('a job that failed longer ago than failed jobs are kept is not retried: what it sent is no longer known', async (t) => {
  const { queue, ids } = await failedJobs(t, 2);
  const [old, recent] = ids as [string, string];
  // BullMQ trims failed jobs past their age only when another job fails: in a quiet queue they stay.
  const finishedOn = (await queue.getJob(old))!.finishedOn!;
  const now = () => finishedOn + FAILED_KEPT_MS + 86_400_000;
  await redis.hset(queue.toKey(recent), 'finishedOn', String(now() - FAILED_KEPT_MS + 60_000));
  const outcome = await retryFailedJobs(queue, undefined, undefined, now);
  t.equal(outcome.retried, 1, 'the one within the week retried');
  t.match(outcome.skipped, [{ id: old, why: /^it failed 8 days ago, longer than the 7 days the relay keeps what a job sent: a retry could send it twice/ }]);
  t.equal(await (await queue.getJob(old))?.getState(), 'failed', 'the old one stays failed');
  t.equal(await (await queue.getJob(recent))?.getState(), 'waiting');
});
