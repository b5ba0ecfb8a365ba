import { JOB_FIELDS, QUEUES, jobKey, layoutOf, queueClient } from '@wxim/queue';
import type { Queue } from 'bullmq';
import { Gauge, type Registry } from 'prom-client';
import { withinScrape } from './scrape-deadline.js';

const STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
/** How many delayed jobs, due first, are looked at for the oldest: a bounded cost per scrape. */
export const DELAYED_LOOKED_AT = 10_000;

/**
 * Every queue's depth by state and the age of its oldest waiting and oldest delayed job, read
 * from Redis when Prometheus scrapes: the one place the fleet's queues are measured, whatever runs
 * the workers. When Redis does not answer within `deadlineMs` the series are left out (and
 * `wxim_redis_up` says why).
 */
export function registerQueueMetrics(
  registry: Registry,
  queues: readonly Queue[],
  deadlineMs = 2000,
  /** Delayed jobs that are meant to wait (the conversations waiting for an agent), left out of the oldest's age. */
  meantToWait: () => Promise<Set<string>> = async () => new Set(),
): void {
  new Gauge({
    name: 'wxim_queue_jobs',
    help: 'Jobs in each queue by state (waiting includes prioritized)',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      try {
        const all = await withinScrape(
          Promise.all(queues.map((queue) => queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'))),
          deadlineMs,
        );
        for (const [i, counts] of all.entries()) {
          for (const state of STATES) {
            const n = state === 'waiting' ? (counts['waiting'] ?? 0) + (counts['prioritized'] ?? 0) : (counts[state] ?? 0);
            this.set({ queue: queues[i]!.name, state }, n);
          }
        }
      } catch {
        this.reset();
      }
    },
  });
  const ages = ({ name, help, oldest }: { name: string; help: string; oldest: (queue: Queue) => Promise<number> }) =>
    new Gauge({
      name,
      help,
      labelNames: ['queue'],
      registers: [registry],
      async collect() {
        try {
          const all = await withinScrape(Promise.all(queues.map(oldest)), deadlineMs);
          for (const [i, seconds] of all.entries()) this.set({ queue: queues[i]!.name }, seconds);
        } catch {
          this.reset();
        }
      },
    });
  ages({
    name: 'wxim_queue_oldest_waiting_seconds',
    help: 'Age of the job that has waited longest to be taken (0 when none waits), by queue',
    oldest: oldestWaitingSeconds,
  });
  ages({
    name: 'wxim_queue_oldest_delayed_seconds',
    help: `Age (since it was stored) of the oldest delayed job: retried with backoff, or waiting its turn behind its conversation's earlier one (0 when none; among the ${DELAYED_LOOKED_AT} due first; a conversation waiting for an agent is left out: see wxim_desk_longest_wait_seconds), by queue`,
    oldest: async (queue) => oldestDelayedSeconds(queue, queue.name === QUEUES.wechatInbound ? await meantToWait() : new Set()),
  });
}

const ageOf = (timestamp: number) => (Number.isFinite(timestamp) && timestamp > 0 ? Math.max(0, (Date.now() - timestamp) / 1000) : 0);

/** The wait list is taken from its right end: the job there has waited longest. */
async function oldestWaitingSeconds(queue: Queue): Promise<number> {
  const client = await queueClient(queue);
  const { wait, jobs } = layoutOf(queue);
  const id = await client.lindex(wait, -1);
  if (id === null) return 0;
  return ageOf(Number(await client.hget(jobKey(jobs, id), JOB_FIELDS.created)));
}

/**
 * Delayed jobs are ordered by when they are due, not by age: a job retried for an hour is due no
 * sooner than one retried once. So the creation times of the first DELAYED_LOOKED_AT are read.
 */
async function oldestDelayedSeconds(queue: Queue, leftOut: ReadonlySet<string>): Promise<number> {
  const client = await queueClient(queue);
  const { delayed, jobs } = layoutOf(queue);
  const ids = (await client.zrange(delayed, 0, DELAYED_LOOKED_AT - 1)).filter((id) => !leftOut.has(id));
  if (ids.length === 0) return 0;
  const pipeline = client.pipeline();
  for (const id of ids) pipeline.hget(jobKey(jobs, id), JOB_FIELDS.created);
  const stamps = ((await pipeline.exec()) ?? []).map(([, value]) => Number(value)).filter((n) => Number.isFinite(n) && n > 0);
  return stamps.length === 0 ? 0 : ageOf(Math.min(...stamps));
}
