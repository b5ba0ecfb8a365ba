import { queueLayout } from '@wxim/queue';
import { ImPermanentError } from '@wxim/im';
import { WechatRateLimitedError } from '@wxim/wechat';
import { ConversationLine, type Lease, LockLostError, queueHold, stateKeys, wakeToFront } from '@wxim/state';
import { type Attempt, orderedJobs, sleepUntil } from '@wxim/host';
import { eventually, startTestRedis, testPrefix } from '@wxim/testkit';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';

const server = await startTestRedis();
t.teardown(() => server.close());

interface Task {
  /** The customer's line; '' for a job that takes no turn (run out of line). */
  openid: string;
  /** What the work does: resolve, or throw this error. */
  fails?: 'internal' | 'lock_lost' | 'permanent' | 'daily_quota';
}

const QUEUE = 'ordered-test';

/** What a run saw and said: the jobs it ran, with their leases, and the worker's words. */
interface Seen {
  runs: { id: string; lease: Lease | undefined }[];
  retried: string[];
  failed: string[];
  steppedAside: string[];
  lastWords: { id: string; reason: string }[];
  logs: { level: 'info' | 'warn' | 'error'; msg: string; obj: object }[];
  /** The jobs the host's own wake was asked for. */
  wakes: string[];
  /** The holds on the whole queue asked for (ms). */
  holds: number[];
}

/** A queue and a worker of its own, with the protocol wired as the worker host wires a handler. */
async function setup(
  t: Test,
  options: {
    waitMs: number;
    work?: (job: Job<Task>, line: ConversationLine) => Promise<void>;
  },
) {
  const prefix = testPrefix();
  const keys = stateKeys(prefix);
  const redis = new Redis(server.url, { maxRetriesPerRequest: null });
  const queue = new Queue<Task>(QUEUE, { connection: redis, prefix });
  const layout = queueLayout(prefix, QUEUE);
  const line = new ConversationLine(redis, keys, QUEUE, (jobId) => `${prefix}:test-state:${jobId}`);
  const seen: Seen = { runs: [], retried: [], failed: [], steppedAside: [], lastWords: [], logs: [], wakes: [], holds: [] };
  const wake = wakeToFront(redis, layout);
  const hold = queueHold(redis, layout.limiter);
  const work = async (job: Job<Task>, lease: Lease | undefined) => {
    seen.runs.push({ id: job.id!, lease });
    await options.work?.(job, line);
    if (job.data.fails === 'internal') throw new Error('something broke');
    if (job.data.fails === 'lock_lost') throw new LockLostError('the lock is gone');
    if (job.data.fails === 'permanent') throw new ImPermanentError('openim/sendmsg', 20001, 'refused for good');
    // Over the API's daily quota on its first run only, held back 300 ms (see DailyQuotas).
    if (job.data.fails === 'daily_quota' && seen.runs.filter((r) => r.id === job.id).length === 1)
      throw new WechatRateLimitedError('message/custom/send', 45009, 'reach max api daily quota limit', 300);
    return `ran ${job.id}`;
  };
  const jobs = orderedJobs<Task, string>(
    {
      line,
      wake: (id) => {
        seen.wakes.push(id);
        return wake(id);
      },
      rateLimit: (ms) => {
        seen.holds.push(ms);
        return hold(ms);
      },
      jobKeyPrefix: keys.jobs(QUEUE),
      lockMs: 30_000,
      waitMs: options.waitMs,
      log: {
        info: (obj, msg) => seen.logs.push({ level: 'info', msg, obj }),
        warn: (obj, msg) => seen.logs.push({ level: 'warn', msg, obj }),
        error: (obj, msg) => seen.logs.push({ level: 'error', msg, obj }),
      },
    },
    {
      lineOf: (job) => (job.data.openid === '' ? undefined : job.data.openid),
      outOfLine: (job) => work(job, undefined),
      attempt: (job, lease): Attempt<string> => ({
        run: () => work(job, lease),
        failedForGood: async (err) => {
          seen.lastWords.push({ id: job.id!, reason: err.message });
        },
      }),
      words: {
        fields: (job) => ({ openid: job.data.openid }),
        willRetry: 'task will be retried',
        failedForGood: 'task failed for good',
        retried: (decisionClass) => seen.retried.push(decisionClass),
        failed: (job) => seen.failed.push(job.id!),
        steppedAside: (job) => seen.steppedAside.push(job.id!),
      },
    },
  );
  const blocking = new Redis(server.url, { maxRetriesPerRequest: null });
  const worker = new Worker<Task>(QUEUE, (job, token) => jobs.process(job, token), { connection: blocking, prefix, concurrency: 4, autorun: false });
  // As the worker host does: a job done for good leaves its line. The teardown waits for the
  // steps still under way (a test may end as soon as it sees the job's end, before its step).
  const leaving = new Set<Promise<void>>();
  const leave = (job: Job<Task>, failed: boolean) => {
    const step = jobs
      .done(job, failed)
      .catch((err: Error) => void seen.logs.push({ level: 'warn', msg: 'could not leave the line', obj: { jobId: job.id, reason: err.message } }))
      .finally(() => leaving.delete(step));
    leaving.add(step);
  };
  worker.on('completed', (job) => leave(job, false));
  worker.on('failed', (job) => {
    if (job?.finishedOn) leave(job, true);
  });
  t.teardown(async () => {
    await worker.close(true);
    await Promise.all(leaving);
    await queue.close();
    blocking.disconnect();
    redis.disconnect();
  });
  /** Stores a job and puts it in its customer's line, as the service that stores jobs does. */
  const store = async (id: string, task: Task, attempts = 1) => {
    await queue.add('task', task, { jobId: id, attempts, backoff: { type: 'fixed', delay: 20 } });
    if (task.openid !== '') await line.append(task.openid, id);
  };
  /** Starts the worker, once the test has stored what it starts with. */
  const start = () => void worker.run();
  return { redis, queue, line, keys, seen, store, start };
}

t.test('a job behind another steps aside without spending an attempt and is woken when the first is done, by its finish in the same round trip', async (t) => {
  let release: () => void = () => {};
  const held = new Promise<void>((r) => (release = r));
  // Nobody looks again on their own for a minute: only the wake can move the second job.
  const { queue, seen, store, start } = await setup(t, { waitMs: 60_000, work: (job) => (job.id === 'first' ? held : Promise.resolve()) });
  await store('first', { openid: 'o1' });
  await store('second', { openid: 'o1' });
  start();
  await eventually('the second job stepped aside', async () => (await queue.getJobState('second')) === 'delayed');
  t.same(
    seen.runs.map((r) => r.id),
    ['first'],
    'only the head ran',
  );
  t.same(seen.steppedAside, ['second']);
  t.equal((await queue.getJob('second'))!.attemptsMade, 0, 'stepping aside spent no attempt');
  const stoodAside = Date.now();
  release();
  await eventually('the second job completed', async () => (await queue.getJobState('second')) === 'completed');
  t.ok(Date.now() - stoodAside < 10_000, 'woken when the first was done, not by its own look a minute later');
  t.same(
    seen.runs.map((r) => r.id),
    ['first', 'second'],
    'in the order of the line',
  );
  t.equal((await queue.getJob('second'))!.attemptsMade, 1, 'one attempt in all: the one that ran');
  t.equal((await queue.getJob('second'))!.returnvalue, 'ran second');
  t.same(seen.wakes, [], 'the finish woke it: no wake of its own');
});

t.test('a job whose turn is absent is appended and runs under its lease', async (t) => {
  let turnWhileRunning: string | undefined;
  const { redis, queue, line, keys, seen, start } = await setup(t, {
    waitMs: 60_000,
    work: async (job, line) => {
      turnWhileRunning = await line.turn(job.data.openid, job.id!);
    },
  });
  await queue.add('task', { openid: 'o2' }, { jobId: 'stray' });
  t.equal(await line.turn('o2', 'stray'), 'absent', 'stored without a place in line');
  start();
  await eventually('the job completed', async () => (await queue.getJobState('stray')) === 'completed');
  await eventually('the job left its line', async () => (await redis.zcard(keys.line(QUEUE, 'o2'))) === 0);
  t.equal(turnWhileRunning, 'head', 'it took its place in line and ran at its head');
  const lease = seen.runs[0]!.lease!;
  t.equal(lease.lockKey, `${keys.jobs(QUEUE)}stray:lock`, "the lease names BullMQ's lock of the job");
  t.equal(lease.lockMs, 30_000);
  t.ok(lease.token.length > 0, "with the worker's lock token");
});

t.test('an attempt that fails with attempts left is retried; the last runs the failed-for-good hook once', async (t) => {
  const { queue, seen, store, start } = await setup(t, { waitMs: 60_000 });
  await store('flaky', { openid: 'o3', fails: 'internal' }, 3);
  await store('after', { openid: 'o3' });
  start();
  await eventually('the job failed for good', async () => (await queue.getJobState('flaky')) === 'failed');
  t.same(seen.retried, ['internal', 'internal'], 'two retries counted by class');
  t.same(seen.failed, ['flaky'], 'the failure counted once');
  t.same(seen.lastWords, [{ id: 'flaky', reason: 'something broke' }], 'the hook ran once, with the error');
  t.same(
    seen.logs.map((l) => [l.level, l.msg]),
    [
      ['warn', 'task will be retried'],
      ['warn', 'task will be retried'],
      ['error', 'task failed for good'],
    ],
  );
  t.same(seen.logs[1]!.obj, { jobId: 'flaky', openid: 'o3', class: 'internal', reason: 'something broke', attempt: 2 }, "the worker's fields in the log");
  t.equal((await queue.getJob('flaky'))!.failedReason, 'something broke', 'the error itself is what BullMQ records');
  await eventually('the job behind it went on', async () => (await queue.getJobState('after')) === 'completed');
});

t.test("a job over a WeChat API's daily quota waits at the head of its line, no attempt spent; the queue's other lines go on", async (t) => {
  const { queue, seen, store, start } = await setup(t, { waitMs: 60_000 });
  await store('over', { openid: 'o9', fails: 'daily_quota' }, 1);
  await store('behind', { openid: 'o9' });
  await store('other', { openid: 'o10' });
  start();
  await eventually('the other line went on', async () => (await queue.getJobState('other')) === 'completed');
  t.same(seen.holds, [], 'the queue is not held');
  await eventually('the job ran again after its wait', async () => (await queue.getJobState('over')) === 'completed');
  await eventually('the one behind it went after it', async () => (await queue.getJobState('behind')) === 'completed');
  const [over, behind] = [(await queue.getJob('over'))!, (await queue.getJob('behind'))!];
  t.equal(over.attemptsMade, 1, 'its only attempt, of one, is the one that completed');
  t.ok(behind.processedOn! >= over.finishedOn!, 'the customer’s later job waited behind it');
  t.same(seen.retried, ['daily_quota'], 'counted under its own class');
  t.same(seen.failed, []);
});

t.test('an error the platform means for good fails the job at once, and says its last word', async (t) => {
  const { queue, seen, store, start } = await setup(t, { waitMs: 60_000 });
  await store('refused', { openid: 'o4', fails: 'permanent' }, 5);
  start();
  await eventually('the job failed', async () => (await queue.getJobState('refused')) === 'failed');
  t.equal((await queue.getJob('refused'))!.attemptsMade, 1, 'no attempt left to spend');
  t.same(seen.retried, []);
  t.same(seen.failed, ['refused']);
  t.equal(seen.lastWords.length, 1);
});

t.test("a job that takes no turn has its errors decided as any job's: retried and counted by class, or failed at once", async (t) => {
  const { queue, seen, store, start } = await setup(t, { waitMs: 60_000 });
  await store('signal-refused', { openid: '', fails: 'permanent' }, 5);
  await store('signal-flaky', { openid: '', fails: 'internal' }, 2);
  start();
  await eventually(
    'both failed',
    async () => (await queue.getJobState('signal-refused')) === 'failed' && (await queue.getJobState('signal-flaky')) === 'failed',
  );
  t.equal((await queue.getJob('signal-refused'))!.attemptsMade, 1, 'refused for good: no attempt left to spend');
  t.equal((await queue.getJob('signal-flaky'))!.attemptsMade, 2);
  t.same(seen.retried, ['internal'], "the flaky one's retry counted by class");
  t.same(seen.failed.sort(), ['signal-flaky', 'signal-refused'], 'each failure counted once');
  t.same(
    seen.logs.filter((l) => l.level === 'error').map((l) => l.msg),
    ['task failed for good', 'task failed for good'],
    'said by the work’s decision, not found afterwards',
  );
  t.equal(seen.runs.length, 3, 'three runs: one, then two');
});

t.test('a job whose lock is lost is given up: no failure decided, no last word', async (t) => {
  const { queue, seen, store, start } = await setup(t, { waitMs: 60_000 });
  // A single attempt: were the lost lock taken for a failure, this one would be the last.
  await store('lost', { openid: 'o5', fails: 'lock_lost' });
  start();
  await eventually('the job ended', async () => (await queue.getJobState('lost')) === 'failed');
  t.same(seen.retried, ['lock_lost'], 'counted with the retries, by its class');
  t.same(seen.lastWords, [], 'the hook did not run');
  // Its lock was in fact still held here, so BullMQ failed it (its one attempt spent): a failure
  // for good the work did not decide, counted and said all the same.
  await eventually('the failure BullMQ recorded is counted', () => seen.failed.length > 0);
  t.same(seen.failed, ['lost']);
  t.same(
    seen.logs.map((l) => [l.level, l.msg, l.obj]),
    [
      ['warn', 'gave the job up: its lock is lost', { jobId: 'lost', openid: 'o5', reason: 'the lock is gone' }],
      ['error', 'task failed for good (by the queue)', { jobId: 'lost', openid: 'o5', reason: 'the lock is gone' }],
    ],
  );
});

t.test('a job whose turn cannot be taken has the error decided as any attempt: retried and counted, then failed and said, once', async (t) => {
  const { redis, queue, keys, seen, store, start } = await setup(t, { waitMs: 60_000 });
  await store('unturned', { openid: 'o6' }, 2);
  // Its line is not a line: every look at its turn fails (as Redis refusing would), before its work begins.
  await redis.del(keys.line(QUEUE, 'o6'));
  await redis.set(keys.line(QUEUE, 'o6'), 'not a line');
  start();
  await eventually('the job failed', async () => (await queue.getJobState('unturned')) === 'failed');
  await eventually('counted', () => seen.failed.length > 0);
  t.same(seen.runs, [], 'its work never ran');
  t.same(seen.retried, ['internal'], 'the first attempt counted as a retry, by class');
  t.same(seen.failed, ['unturned'], 'the failure counted once');
  // (Its line cannot be left either, as the test's own hook logs: the line is not a line.)
  const said = seen.logs.filter((l) => l.msg !== 'could not leave the line');
  t.same(
    said.map((l) => [l.level, l.msg]),
    [
      ['warn', 'task will be retried'],
      ['error', 'task failed for good'],
    ],
    'and logged as decided, once',
  );
  t.match(said[1]!.obj, { jobId: 'unturned', openid: 'o6', reason: /WRONGTYPE/ });
  const decidedHere = await setup(t, { waitMs: 60_000 });
  await decidedHere.store('refused', { openid: 'o7', fails: 'permanent' });
  decidedHere.start();
  await eventually('the refused job failed', async () => (await decidedHere.queue.getJobState('refused')) === 'failed');
  await eventually('the job left its line (its end seen)', async () => (await decidedHere.redis.zcard(decidedHere.keys.line(QUEUE, 'o7'))) === 0);
  t.same(decidedHere.seen.failed, ['refused'], 'a failure the work decided is not counted again when BullMQ records it');
});

t.test('an error after the job went to sleep (its wake, a look again) does not fail it: logged, it runs again at its time', async (t) => {
  let slept = 0;
  const { queue, seen, store, start } = await setup(t, {
    waitMs: 60_000,
    work: async (job) => {
      if (slept++ > 0) return;
      // As a job that finds no agent: asleep for a moment, then its look again fails (Redis refusing, say).
      await sleepUntil(job, Date.now() + 300, { token: job.token! });
      throw new Error('the look again failed');
    },
  });
  await store('sleeper', { openid: 'o1' });
  start();
  await eventually('it ran again at its time, and completed', async () => (await queue.getJobState('sleeper')) === 'completed');
  t.same(seen.failed, [], 'never counted failed');
  t.same(seen.lastWords, [], 'no last words');
  t.equal(seen.logs.filter((l) => l.level === 'error').length, 0, 'no "failed for good" line');
  t.match(
    seen.logs.filter((l) => l.level === 'warn'),
    [{ msg: 'after the job went to sleep: it runs again at its time', obj: { jobId: 'sleeper', reason: 'the look again failed' } }],
  );
  t.equal((await queue.getJob('sleeper'))!.attemptsMade, 1, 'one attempt in all: sleeping spent none');
});
