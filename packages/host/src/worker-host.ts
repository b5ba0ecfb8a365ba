import { type Config, loggedAccount, loggerOptions } from '@wxim/config';
import {
  BACKOFF_TYPE,
  DEFAULT_JOB_OPTIONS,
  type QueueName,
  type RedisClient,
  cappedExponentialBackoff,
  connectionSettings,
  createRedis,
  accountPrefix,
} from '@wxim/queue';
import { HOLD_MARK, ReplicaCheck, stateKeys } from '@wxim/state';
import { type Job, Queue, Worker } from 'bullmq';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Gauge, Registry } from 'prom-client';
import { healthRoutes } from './health-routes.js';
import { requestTimeLimit } from './request-time-limit.js';
import { RedisOutageLog, isConnectionLoss } from './redis-outage-log.js';

/** What a worker service does with its queue's jobs; the host runs the rest. */
export interface JobHandler<T> {
  /** One job, with its lock token (absent when a tool runs a job by hand). */
  process(job: Job<T>, token?: string): Promise<unknown>;
  /** After BullMQ has recorded a job completed, or failed with no attempt left: e.g. leave its line. */
  done?(job: Job<T>, failed: boolean): Promise<void>;
  /** Closes the handler's platform clients once no job is in flight. */
  close(): Promise<void>;
  /** Cuts the platform calls still in flight, so the processors end now (a shutdown that timed out). */
  abort(): Promise<void>;
}

/** What a handler is built with: the host's connections, queue and log. */
export interface WorkerContext<T> {
  /** For the relay's own state and scripts (not BullMQ's blocking connection). */
  state: RedisClient;
  queue: Queue<T>;
  /** The (hash-tagged) key prefix of every queue and key. */
  prefix: string;
  log: FastifyBaseLogger;
  /** With REDIS_WAIT_REPLICAS: confirms a job is on the replicas before anything is sent for it (none when 0). */
  replicas?: ReplicaCheck;
}

export interface WorkerHostOptions<T> {
  /** The service's name, in logs and Redis client names. */
  service: string;
  queue: QueueName;
  config: Config;
  registry: Registry;
  /** Jobs in flight in this process. */
  inFlight?: Gauge;
  build(context: WorkerContext<T>): JobHandler<T> | Promise<JobHandler<T>>;
  /** What tests and tools change; a service's own overrides extend these and are passed whole. */
  overrides?: HostOverrides;
}

/** The host settings a worker's overrides may carry (tests shorten them). */
export interface HostOverrides {
  /** First retry delay; doubles per attempt up to 10 minutes. */
  backoffBaseMs?: number;
  /** How long SIGTERM waits for jobs in flight before handing them back. */
  shutdownTimeoutMs?: number;
  logStream?: NodeJS.WritableStream;
}

export interface WorkerHost<T> {
  worker: Worker<T>;
  queue: Queue<T>;
  /** /healthz, /readyz and /metrics; listen on it to expose them. */
  app: FastifyInstance;
  state: RedisClient;
  /** What the worker runs for each job it takes: tools and tests can run a job by hand. */
  runJob: (job: Job<T>, token?: string) => Promise<unknown>;
  start(): void;
  close(): Promise<void>;
}

/** How long each step of handing jobs back may take: with Redis unreachable, they cannot. */
const HAND_BACK_MS = 2000;

/** Waits for `promise` to settle, at most `ms`. */
async function settled(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/** Resolves `'unreachable'` once `holds()` (looked at every 100 ms), unless `until` aborts first. */
async function whenUnreachable(holds: () => boolean, until: AbortSignal): Promise<'unreachable' | undefined> {
  while (!until.aborted) {
    if (holds()) return 'unreachable';
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

/**
 * A BullMQ worker service, written once for every worker: its connections (state and blocking),
 * its queue, the jobs in flight, the `done` step after BullMQ records a job's end, readiness and
 * metrics routes, and a shutdown that finishes what is in flight or, past a timeout, hands it
 * back to the queue so another worker takes it at once.
 */
export async function createWorkerHost<T>(options: WorkerHostOptions<T>): Promise<WorkerHost<T>> {
  const { config, service } = options;
  const prefix = accountPrefix(config.queuePrefix, config.redisCluster, config.account);
  const state = createRedis(connectionSettings(config, service), 'state');
  state.on('error', () => {}); // reported through /readyz and the jobs' retries; ioredis reconnects by itself
  const logger = {
    ...loggerOptions(config.logLevel, service, loggedAccount(config)),
    ...(options.overrides?.logStream ? { stream: options.overrides.logStream } : {}),
  };
  const app = Fastify({ logger, logController: new LogController({ disableRequestLogging: true }), ...requestTimeLimit() });
  const queue = new Queue<T>(options.queue, { connection: state, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
  queue.on('error', () => {});
  // WAIT holds its connection until the replicas answer (up to a second each while one lags): a
  // connection of its own, so the turns, the rate gate and the readiness PING on `state` never
  // wait behind it. Its own write (the lock renewal) is what WAIT covers: the guarantee is the same.
  const waiting = config.redisWaitReplicas > 0 ? createRedis(connectionSettings(config, `${service}-replicas`), 'state') : undefined;
  waiting?.on('error', () => {}); // a failed check is the job's retry
  const replicas = waiting === undefined ? undefined : new ReplicaCheck(waiting, stateKeys(prefix).replicaMark, config.redisWaitReplicas);
  const handler = await options.build({ state, queue, prefix, log: app.log, ...(replicas === undefined ? {} : { replicas }) });

  // The jobs being processed, with their lock tokens, to hand back on a shutdown that times out.
  const inFlight = new Map<string, { job: Job<T>; token: string }>();
  const runJob = async (job: Job<T>, token?: string) => {
    if (token !== undefined) inFlight.set(job.id!, { job, token });
    options.inFlight?.inc();
    try {
      return await handler.process(job, token);
    } finally {
      inFlight.delete(job.id!);
      options.inFlight?.dec();
    }
  };
  const blocking = createRedis(connectionSettings(config, `${service}-blocking`), 'worker');
  blocking.on('error', () => {}); // BullMQ reports through the worker's own 'error' event
  const worker = new Worker<T>(options.queue, runJob, {
    connection: blocking,
    prefix,
    concurrency: config.worker.concurrency,
    lockDuration: config.worker.stallMs,
    stalledInterval: config.worker.stallMs,
    // A job can be caught in several crashes in a row; it is failed (visibly) only after 10.
    maxStalledCount: 10,
    // No real limit (the rate gates keep the fleet under the platforms'), but BullMQ honours a
    // hold on the queue (queueHold) only where a limiter is set: with it, every worker of the
    // fleet holds back after a platform says "too many requests", not just the one that heard it.
    limiter: { max: HOLD_MARK, duration: 1000 },
    autorun: false,
    settings: {
      backoffStrategy: (attemptsMade: number, type?: string) =>
        type === BACKOFF_TYPE ? cappedExponentialBackoff(attemptsMade, Math.random, options.overrides?.backoffBaseMs) : cappedExponentialBackoff(attemptsMade),
    },
  });
  // While Redis is away BullMQ reports each failed fetch (about one a second): say it once, and when it is back.
  const outage = new RedisOutageLog(app.log);
  const redisReady = () => state.status === 'ready' && blocking.status === 'ready';
  worker.on('error', (err) => (redisReady() && !isConnectionLoss(err) ? app.log.warn({ reason: err.message }, 'worker error') : outage.failed(err.message)));
  blocking.on('ready', () => outage.recovered());
  // A job done for good (completed, or failed with no attempt left) runs `done`; close() waits for these.
  const leaving = new Set<Promise<void>>();
  const leave = (job: Job<T>, failed: boolean) => {
    if (handler.done === undefined) return;
    const left = handler
      .done(job, failed)
      .catch((err: Error) => app.log.warn({ jobId: job.id, reason: err.message }, 'could not wake the next job in line; it wakes by itself'))
      .finally(() => leaving.delete(left));
    leaving.add(left);
  };
  worker.on('completed', (job) => leave(job, false));
  worker.on('failed', (job) => {
    if (job?.finishedOn) leave(job, true); // not when it will be retried
  });
  await app.register(healthRoutes, { redis: state, registry: options.registry, ready: () => worker.isRunning() });
  const shutdownTimeoutMs = options.overrides?.shutdownTimeoutMs ?? 15_000;
  return {
    worker,
    queue,
    app,
    state,
    runJob,
    start() {
      void worker.run().catch((err: Error) => app.log.error({ reason: err.message }, 'worker stopped'));
    },
    async close() {
      // Finish what is in flight; past the timeout, hand the rest back (they run again elsewhere).
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((r) => {
        timer = setTimeout(() => r('timeout'), shutdownTimeoutMs);
      });
      const closing = worker.close();
      const raced = new AbortController();
      const outcome = await Promise.race([closing, timedOut, whenUnreachable(() => inFlight.size === 0 && !redisReady(), raced.signal)]);
      raced.abort();
      if (outcome === 'unreachable') {
        // BullMQ's close waits for its fetch of the next job, which waits for Redis: with no job in
        // flight there is nothing to finish or hand back, so there is nothing to wait for.
        app.log.info('Redis unreachable and no job in flight: nothing to hand back');
        state.disconnect();
        blocking.disconnect();
        waiting?.disconnect();
        await handler.close();
      } else if (outcome === 'timeout') {
        app.log.warn({ jobs: inFlight.size, timeoutMs: shutdownTimeoutMs }, 'shutdown timed out: handing the jobs in flight back to the queue');
        // Jobs that finished meanwhile leave their lines first; then no relay step (line, turn)
        // runs any more, so a handed-back job's place in its line stays as it was.
        await settled(Promise.all(leaving), HAND_BACK_MS);
        state.disconnect();
        // Back to the front of the queue, lock released: another worker takes them at once. If
        // Redis cannot be reached, their locks expire instead and the stalled-job check takes over.
        await settled(Promise.allSettled([...inFlight.values()].map(({ job, token }) => job.moveToWait(token))), HAND_BACK_MS);
        // Cut the platform calls still in flight so the processors end now; each handler says
        // why a call the platform did receive is safe to make again (or is not made again).
        await handler.abort();
        await settled(closing, HAND_BACK_MS);
      } else {
        await settled(Promise.all(leaving), HAND_BACK_MS);
        await handler.close();
      }
      clearTimeout(timer);
      await app.close();
      await queue.close();
      state.disconnect();
      blocking.disconnect();
      waiting?.disconnect();
    },
  };
}
