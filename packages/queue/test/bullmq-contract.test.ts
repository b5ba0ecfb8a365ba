// What the relay assumes of BullMQ's internals (src/bullmq-layout.ts), checked against the pinned
// BullMQ on a real Redis: a BullMQ upgrade that changes one of them fails here first.
import { DEFAULT_JOB_OPTIONS, DurableEnqueuer, JOB_FIELDS, type QueueLayout, dedupeKey, jobKey, jobLockKey, layoutOf, queueLayout } from '@wxim/queue';
import { HOLD_MARK, queueHold, wakeToFront } from '@wxim/state';
import { eventually, startTestRedis, testPrefix } from '@wxim/testkit';
import { DelayedError, type Job, type Processor, Queue, Worker, type WorkerOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import t, { type Test } from 'tap';

const server = await startTestRedis();
t.teardown(() => server.close());

const NAME = 'contract';

/** A queue of its own (a fresh prefix), a plain connection beside it, and workers on it that end with the test. */
function onQueue<T = unknown>(t: Test, prefix = testPrefix()) {
  const connections: Redis[] = [];
  const connect = (options: RedisOptions = {}) => {
    const connection = new Redis(server.url, options);
    connections.push(connection);
    return connection;
  };
  const redis = connect();
  const queue = new Queue<T>(NAME, { connection: redis, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
  const workers: Worker[] = [];
  t.teardown(async () => {
    for (const worker of workers) await worker.close(true);
    await queue.close();
    // BullMQ leaves the connections it was given open.
    for (const connection of connections) connection.disconnect();
  });
  const layout: QueueLayout = queueLayout(prefix, NAME);
  const work = (processor: Processor, opts: Partial<WorkerOptions> = {}) => {
    const worker = new Worker(NAME, processor, { connection: connect({ maxRetriesPerRequest: null }), prefix, concurrency: 1, ...opts });
    worker.on('error', () => {});
    workers.push(worker);
    return worker;
  };
  return { redis, queue, layout, work, connect };
}

const counts = (queue: Queue) => queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed');

t.test("our key names are the ones BullMQ builds, with and without a cluster's hash tag", async (t) => {
  for (const prefix of [testPrefix(), `{${testPrefix()}}`]) {
    const { queue, layout } = onQueue(t, prefix);
    const keys = queue.keys;
    const expected = {
      jobs: keys[''],
      wait: keys.wait,
      active: keys.active,
      delayed: keys.delayed,
      meta: keys.meta,
      marker: keys.marker,
      events: keys.events,
      limiter: keys.limiter,
    };
    t.same(layout, expected, `prefix ${prefix}`);
    t.same(layoutOf(queue), expected, `prefix ${prefix}, from the queue`);
  }
  const unprefixed = new Queue(NAME, { connection: onQueue(t).connect() });
  t.teardown(() => unprefixed.close());
  t.equal(layoutOf(unprefixed).wait, unprefixed.keys.wait, "a queue given no prefix: BullMQ's default");
});

t.test("the lock key names the lock BullMQ's worker holds on an active job, its value the worker's token", async (t) => {
  const { redis, queue, layout, work } = onQueue(t);
  await queue.add('locked', {}, { jobId: 'j1' });
  const seen = new Promise<{ value: string | null; pttl: number; token?: string; active: number; activeList: string[] }>((resolve) => {
    work(
      async (job: Job, token?: string) => {
        const lock = jobLockKey(layout.jobs, job.id!);
        resolve({
          value: await redis.get(lock),
          pttl: await redis.pttl(lock),
          ...(token === undefined ? {} : { token }),
          active: (await counts(queue))['active'] ?? 0,
          activeList: await redis.lrange(layout.active, 0, -1),
        });
      },
      { lockDuration: 5000 },
    );
  });
  const { value, pttl, token, active, activeList } = await seen;
  t.ok(token, 'the worker has a token');
  t.equal(value, token, 'the lock holds the token');
  t.ok(pttl > 0 && pttl <= 5000, `it expires within the lock duration (${pttl} ms)`);
  t.equal(active, 1, 'the dashboard counts it active');
  t.same(activeList, ['j1'], 'it is in the active list');
  await eventually('the job completes', async () => (await queue.getJob('j1'))?.finishedOn !== undefined);
  t.equal(await redis.exists(jobLockKey(layout.jobs, 'j1')), 0, 'the lock is gone once the job is done');
});

t.test('a job the durable enqueuer stores is one BullMQ reads back with its options and a worker processes', async (t) => {
  const { redis, queue, layout, work } = onQueue<{ text: string }>(t);
  const enqueuer = new DurableEnqueuer(queue, undefined, 5000);
  const stored = { name: 'text', data: { text: 'hello' }, jobId: 'm-1', dedupeTtlMs: 60_000 };
  await enqueuer.enqueue(stored);
  await enqueuer.enqueue(stored);

  const job = await queue.getJob('m-1');
  t.ok(job, 'Queue.getJob finds it');
  t.equal(job!.name, 'text');
  t.same(job!.data, { text: 'hello' });
  t.equal(job!.opts.attempts, DEFAULT_JOB_OPTIONS.attempts, 'with the default attempts');
  t.same(job!.opts.backoff, DEFAULT_JOB_OPTIONS.backoff, 'and backoff');
  t.same(job!.opts.deduplication, { id: 'm-1', ttl: 60_000 }, 'and its deduplication');
  t.equal(await job!.getState(), 'waiting');
  t.match(await counts(queue), { waiting: 1, delayed: 0, active: 0 }, 'stored once, waiting');
  t.same(await redis.lrange(layout.wait, 0, -1), ['m-1'], 'in the wait list');
  t.equal(Number(await redis.hget(jobKey(layout.jobs, 'm-1'), JOB_FIELDS.created)), job!.timestamp, "the hash's creation time is the job's");
  t.equal(await redis.hexists(jobKey(layout.jobs, 'm-1'), JOB_FIELDS.finishedOn), 0, 'not finished while it waits');

  const processed: unknown[] = [];
  work(async (job: Job) => {
    processed.push(job.data);
  });
  await eventually('the job completes', async () => (await queue.getJob('m-1'))?.finishedOn !== undefined);
  t.same(processed, [{ text: 'hello' }], 'a worker processed it, once');
  const done = await queue.getJob('m-1');
  t.equal(Number(await redis.hget(jobKey(layout.jobs, 'm-1'), JOB_FIELDS.finishedOn)), done!.finishedOn, 'finished: the field the lines read');
  t.match(await counts(queue), { waiting: 0, completed: 1 }, 'the dashboard counts it completed');
  t.equal(await redis.get(dedupeKey(layout.jobs, 'm-1')), 'm-1', 'its deduplication key holds its id, also once it is done');
  t.ok((await redis.pttl(dedupeKey(layout.jobs, 'm-1'))) > 0, 'for its ttl');
});

t.test("a job's hash: its data as JSON; a failed attempt's reason kept once it completes, a job failed for good without a return value", async (t) => {
  const { redis, queue, layout, work } = onQueue(t);
  await queue.add('reply', { agent: 'agent_a' }, { jobId: 'retried', attempts: 2, backoff: { type: 'fixed', delay: 10 } });
  await queue.add('reply', { agent: 'agent_b' }, { jobId: 'refused', attempts: 1 });
  t.same(JSON.parse((await redis.hget(jobKey(layout.jobs, 'retried'), JOB_FIELDS.data))!), { agent: 'agent_a' }, 'the data, as JSON');
  const tried = new Set<string>();
  work(async (job: Job) => {
    if (job.id === 'refused' || !tried.has(job.id!)) {
      tried.add(job.id!);
      throw new Error('refused');
    }
    return { outcome: 'delivered' };
  });
  await eventually(
    'both are done',
    async () => (await queue.getJob('retried'))?.finishedOn !== undefined && (await queue.getJob('refused'))?.finishedOn !== undefined,
  );
  const fields = async (id: string) => redis.hmget(jobKey(layout.jobs, id), JOB_FIELDS.failedReason, JOB_FIELDS.returnvalue);
  t.same(await fields('retried'), ['refused', '{"outcome":"delivered"}'], 'completed after a failed attempt: both');
  t.same(await fields('refused'), ['refused', null], 'failed for good: a reason and no return value');
});

t.test('a delayed job woken to the front is the next one a worker takes, ahead of the waiting jobs', async (t) => {
  const { redis, queue, layout, work } = onQueue(t);
  await queue.add('a', {}, { jobId: 'a' });
  await queue.add('b', {}, { jobId: 'b' });
  await queue.add('c', {}, { jobId: 'c', delay: 60_000 });
  t.match(await counts(queue), { waiting: 2, delayed: 1 }, 'two wait, one is delayed');
  t.equal(await redis.lindex(layout.wait, -1), 'a', 'the right end of the wait list is the job that waited longest');
  t.same(await redis.zrange(layout.delayed, 0, -1), ['c'], 'the delayed set holds the delayed job');

  const wake = wakeToFront(redis, layoutOf(queue));
  t.equal(await wake('c'), true, 'woken');
  t.equal(await wake('c'), false, 'a job no longer delayed is not woken again');
  t.match(await counts(queue), { waiting: 3, delayed: 0 }, 'it waits now');
  t.equal(await redis.lindex(layout.wait, -1), 'c', 'at the end workers take from');
  const woken = await queue.getJob('c');
  t.equal(await woken!.getState(), 'waiting');
  t.equal(woken!.delay, 0, 'its delay reset');
  const [[, fields] = ['', []]] = await redis.xrevrange(layout.events, '+', '-', 'COUNT', 1);
  t.same(fields, ['event', 'waiting', 'jobId', 'c', 'prev', 'delayed'], 'a waiting event, as BullMQ writes for a promote');

  const order: string[] = [];
  work(async (job: Job) => {
    order.push(job.id!);
  });
  await eventually('all three are processed', async () => order.length === 3);
  t.same(order, ['c', 'a', 'b'], 'the woken job first, then the others in their order');
});

t.test('waking a job that stepped aside signals a worker blocked waiting for jobs', async (t) => {
  const { redis, queue, work } = onQueue(t);
  const wake = wakeToFront(redis, layoutOf(queue));
  const runs: number[] = [];
  work(async (job: Job, token?: string) => {
    runs.push(Date.now());
    if (runs.length === 1) {
      // The step aside of a job waiting its turn: delayed for a minute, unless woken.
      await job.moveToDelayed(Date.now() + 60_000, token);
      throw new DelayedError();
    }
  });
  await queue.add('patient', {}, { jobId: 'p' });
  await eventually('the job has stepped aside', async () => (await (await queue.getJob('p'))?.getState()) === 'delayed');
  await new Promise((resolve) => setTimeout(resolve, 300)); // the worker is back to blocking for its next job
  const wokenAt = Date.now();
  t.equal(await wake('p'), true);
  await eventually('the job runs again', async () => runs.length === 2, 10_000);
  t.ok(runs[1]! - wokenAt < 1500, `the idle worker took it at once (${runs[1]! - wokenAt} ms), not after its block timed out`);
});

t.test("a hold on the limiter key keeps every worker with a limiter from taking jobs until it expires; BullMQ's own hold writes the same mark", async (t) => {
  const { redis, queue, layout, work } = onQueue(t);
  await queue.rateLimit(1000);
  t.equal(await redis.get(layout.limiter), String(HOLD_MARK), "BullMQ's rateLimit marks the key with our hold mark");
  await redis.del(layout.limiter);

  await queueHold(redis, layout.limiter)(1500);
  t.ok((await queue.getRateLimitTtl(HOLD_MARK)) > 0, 'BullMQ reads the queue as held');
  await queue.add('held', {}, { jobId: 'h' });
  const left = await redis.pttl(layout.limiter);
  const started = Date.now();
  let ranAt = 0;
  work(
    async () => {
      ranAt = Date.now();
    },
    { limiter: { max: HOLD_MARK, duration: 1000 } },
  );
  await eventually('the job runs once the hold is over', async () => ranAt > 0, 10_000);
  t.ok(ranAt - started >= left - 100, `held for ${ranAt - started} ms (the hold had ${left} ms left)`);
});
