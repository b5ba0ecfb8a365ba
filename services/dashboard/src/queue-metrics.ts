import type { RedisClient } from '@wxim/queue';
import type { Queue } from 'bullmq';
import { Gauge, type Registry } from 'prom-client';

const STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;

/**
 * Every queue's depth by state and the age of its oldest waiting job, read from Redis when
 * Prometheus scrapes: the one place the fleet's queues are measured, whatever runs the workers.
 */
export function registerQueueMetrics(registry: Registry, queues: readonly Queue[]): void {
  new Gauge({
    name: 'wxim_queue_jobs',
    help: 'Jobs in each queue by state (waiting includes prioritized)',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      for (const queue of queues) {
        const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed');
        for (const state of STATES) {
          const n = state === 'waiting' ? (counts['waiting'] ?? 0) + (counts['prioritized'] ?? 0) : (counts[state] ?? 0);
          this.set({ queue: queue.name, state }, n);
        }
      }
    },
  });
  new Gauge({
    name: 'wxim_queue_oldest_waiting_seconds',
    help: 'Age of the job that has waited longest to be taken (0 when none waits), by queue',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      for (const queue of queues) this.set({ queue: queue.name }, await oldestWaitingSeconds(queue));
    },
  });
}

/** The wait list is taken from its right end: the job there has waited longest. */
async function oldestWaitingSeconds(queue: Queue): Promise<number> {
  // BullMQ's Redis client, the one the queue was given.
  const client = await (queue.backend as unknown as { client: Promise<RedisClient> }).client;
  const id = await client.lindex(queue.keys.wait!, -1);
  if (id === null) return 0;
  const timestamp = Number(await client.hget(`${queue.keys['']!}${id}`, 'timestamp'));
  return Number.isFinite(timestamp) && timestamp > 0 ? Math.max(0, (Date.now() - timestamp) / 1000) : 0;
}
