import { MarkerWorker } from '@wxim/host';
import { eventually, startTestRedis, testPrefix } from '@wxim/testkit';
import { type Job, Queue, Worker, type WorkerOptions } from 'bullmq';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';

const server = await startTestRedis();
t.teardown(() => server.close());

const QUEUE = 'marker-test';

/** BullMQ's moveToActive calls a worker class makes (it is protected: a subclass counts them). */
function counting(Base: typeof Worker) {
  return class extends Base {
    fetches = 0;
    protected override moveToActive(token: string, name?: string): Promise<Job> {
      this.fetches++;
      return super.moveToActive(token, name);
    }
  };
}

interface Setup {
  worker: Worker & { fetches: number };
  add(n: number): Promise<void>;
  /** Whether the worker's blocking connection is waiting on the queue's marker. */
  blocked(): Promise<boolean>;
  done: string[];
}

/** A queue and a worker of `Base` with the host's options (concurrency 8, the limiter that lets a queue be held). */
async function setup(t: Test, Base: typeof Worker, work: (job: Job) => Promise<void> = async () => {}, autorun = true): Promise<Setup> {
  const prefix = testPrefix();
  const redis = new Redis(server.url, { maxRetriesPerRequest: null });
  const blocking = new Redis(server.url, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE, { connection: redis, prefix });
  const done: string[] = [];
  const options: WorkerOptions = { connection: blocking, prefix, concurrency: 8, limiter: { max: Number.MAX_SAFE_INTEGER, duration: 1000 }, autorun };
  const Counting = counting(Base);
  const worker = new Counting(QUEUE, work, options);
  worker.on('completed', (job) => done.push(job.id!));
  const clientName = `${prefix}:${Buffer.from(QUEUE).toString('base64')}`;
  t.teardown(async () => {
    await worker.close();
    await queue.close();
    redis.disconnect();
    blocking.disconnect();
  });
  let added = 0;
  return {
    worker,
    done,
    async add(n) {
      await queue.addBulk(Array.from({ length: n }, () => ({ name: 'job', data: { n: added++ } })));
    },
    async blocked() {
      const clients = (await redis.client('LIST')) as string;
      return clients.split('\n').some((l) => l.includes(`name=${clientName} `) && / cmd=bzpopmin /.test(l) && / flags=b /.test(l));
    },
  };
}

/** Lone jobs, each stored once the worker waits for work again: BullMQ's moveToActive calls per job. */
async function loneJobs(t: Test, Base: typeof Worker, jobs: number): Promise<number> {
  const s = await setup(t, Base);
  await eventually('the worker waits for work', () => s.blocked());
  const before = s.worker.fetches;
  for (let i = 1; i <= jobs; i++) {
    const started = Date.now();
    await s.add(1);
    await eventually(`job ${i} is done`, () => s.done.length === i);
    // Well under drainDelay (5 s): the job was fetched on its marker, not on a timeout.
    t.ok(Date.now() - started < 2000, `job ${i} done in ${Date.now() - started} ms`);
    await eventually('the worker waits for work again', () => s.blocked());
  }
  return (s.worker.fetches - before) / jobs;
}

t.test('a lone job is fetched in two looks, where BullMQ looks three times', async (t) => {
  const ours = await loneJobs(t, MarkerWorker, 10);
  const bullmq = await loneJobs(t, Worker, 10);
  t.equal(ours, 2, `MarkerWorker: ${ours} moveToActive per lone job (its own, and one after the marker it set)`);
  t.equal(bullmq, 3, `BullMQ's Worker: ${bullmq} per lone job (the pinned version's behaviour this class improves on)`);
});

t.test('a job stored while others run starts at once, up to the concurrency', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const running = new Set<string>();
  const s = await setup(t, MarkerWorker, async (job) => {
    running.add(job.id!);
    await gate;
  });
  for (let i = 1; i <= 3; i++) {
    await s.add(1);
    await eventually(`${i} jobs run together`, () => running.size === i);
  }
  t.equal(s.done.length, 0, 'three jobs run together, none done yet');
  release();
  await eventually('all done', () => s.done.length === 3);
});

t.test('a backlog fills every place of the concurrency and drains', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const running = new Set<string>();
  const s = await setup(
    t,
    MarkerWorker,
    async (job) => {
      running.add(job.id!);
      await gate;
    },
    false,
  );
  await s.add(50);
  void s.worker.run();
  await eventually('8 jobs run together', () => running.size === 8);
  release();
  await eventually('the backlog is done', () => s.done.length === 50, 20_000);
  t.equal(new Set(s.done).size, 50, 'each job once');
});
