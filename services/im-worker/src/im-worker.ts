import { type Config, loggerOptions } from '@wxim/config';
import { ImClient, UserSigCache, paceFor } from '@wxim/im';
import { BACKOFF_TYPE, DEFAULT_JOB_OPTIONS, type InboundJob, QUEUES, cappedExponentialBackoff, createRedis, keyPrefix } from '@wxim/queue';
import { AgentLoad, ConversationLine, IdentityMap, type Lease, RateGate, RelayTurn, stateKeys } from '@wxim/relay';
import { healthRoutes } from '@wxim/runtime';
import { type Job, Queue, Worker } from 'bullmq';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { CustomerRelay, type RelayResult } from './customer-relay.js';
import { createImWorkerMetrics } from './metrics.js';
import { createProcessor } from './processor.js';
import { HOLD_MARK, queueHold } from './queue-hold.js';
import { wakeToFront } from './wake-to-front.js';

export interface ImWorkerOverrides {
  /** First retry delay; doubles per attempt up to 10 minutes. */
  backoffBaseMs?: number;
  /** How long a job waiting for its turn sleeps if nobody wakes it. */
  waitMs?: number;
  imTimeoutMs?: number;
  logStream?: NodeJS.WritableStream;
  processMetrics?: boolean;
  /** How long SIGTERM waits for jobs in flight before handing them back. */
  shutdownTimeoutMs?: number;
  /** IM's duplicate window (120 s); tests shorten it together with the simulator's. */
  imDuplicateWindowMs?: number;
}

export interface ImWorker {
  worker: Worker<InboundJob>;
  /** /healthz, /readyz and /metrics; listen on it to expose them. */
  app: FastifyInstance;
  im: ImClient;
  /** What the worker runs for each job it takes (with its lock token): tools and tests can run a job by hand. */
  runJob(job: Job<InboundJob>, token?: string): Promise<RelayResult>;
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

export function requireImSettings(config: Config): { sdkAppId: number; secretKey: string } {
  const { sdkAppId, secretKey } = config.im;
  if (sdkAppId === undefined || secretKey === undefined || config.im.agents.length === 0)
    throw new Error('createImWorker needs IM_SDK_APP_ID, IM_SECRET_KEY and IM_AGENTS');
  return { sdkAppId, secretKey };
}

/** The im-worker: a BullMQ worker on wechat-inbound that relays each push to Tencent IM. */
export async function createImWorker(config: Config, overrides: ImWorkerOverrides = {}): Promise<ImWorker> {
  const { sdkAppId, secretKey } = requireImSettings(config);
  const prefix = keyPrefix(config.queuePrefix, config.redisCluster);
  const settings = { redisUrl: config.redisUrl, cluster: config.redisCluster };
  const state = createRedis({ ...settings, name: 'im-worker' }, 'state');
  state.on('error', () => {});
  const logger = { ...loggerOptions(config.logLevel, 'im-worker'), ...(overrides.logStream ? { stream: overrides.logStream } : {}) };
  const app = Fastify({ logger, logController: new LogController({ disableRequestLogging: true }) });
  const metrics = createImWorkerMetrics({ processMetrics: overrides.processMetrics ?? false });
  const keys = stateKeys(prefix);
  // IM's budget, per command, its scopes named `im:<command>` (WeChat's API budget is another).
  const gate = new RateGate(state, keys, (scope) => paceFor(scope.slice('im:'.length), config.worker.imRateLimit));
  const imTurn = (command: string, lease?: Lease) => gate.acquire(`im:${command}`, lease);
  const im = new ImClient({
    sdkAppId,
    admin: config.im.admin,
    userSig: new UserSigCache(sdkAppId, secretKey, config.im.admin),
    apiBase: config.im.apiBase,
    timeoutMs: overrides.imTimeoutMs ?? 5000,
    // One connection per job in flight: a call that has passed its lock check and its turn under
    // IM's pace leaves at once, never waits in the pool for a connection.
    connections: config.worker.concurrency,
    afterCall: (command, outcome, seconds) => {
      metrics.imCalls.inc({ command, outcome });
      metrics.imCallSeconds.observe({ command }, seconds);
    },
  });
  const queue = new Queue<InboundJob>(QUEUES.wechatInbound, { connection: state, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
  queue.on('error', () => {});
  const relay = new CustomerRelay(im, new IdentityMap(state, keys), new AgentLoad(state, keys), config.onUnsubscribe, overrides.imDuplicateWindowMs);
  const jobKeyPrefix = `${prefix}:${QUEUES.wechatInbound}:`;
  const relayOne = createProcessor({
    relay,
    turn: new RelayTurn(state, keys, jobKeyPrefix, config.im.agents),
    line: new ConversationLine(state, keys, jobKeyPrefix),
    wake: wakeToFront(state, queue),
    metrics,
    log: app.log,
    rateLimit: queueHold(state, queue.keys.limiter!),
    imTurn,
    jobKeyPrefix,
    lockMs: config.worker.stallMs,
    ...(overrides.waitMs === undefined ? {} : { waitMs: overrides.waitMs }),
  });
  // The jobs being processed, with their lock tokens, to hand back on a shutdown that times out.
  const inFlight = new Map<string, { job: Job<InboundJob>; token: string }>();
  const processor = async (job: Job<InboundJob>, token?: string) => {
    if (token !== undefined) inFlight.set(job.id!, { job, token });
    metrics.inFlight.inc();
    try {
      return await relayOne.process(job, token);
    } finally {
      inFlight.delete(job.id!);
      metrics.inFlight.dec();
    }
  };
  const blocking = createRedis({ ...settings, name: 'im-worker-blocking' }, 'worker');
  blocking.on('error', () => {}); // BullMQ reports through the worker's own 'error' event
  const worker = new Worker<InboundJob>(QUEUES.wechatInbound, processor, {
    connection: blocking,
    prefix,
    concurrency: config.worker.concurrency,
    lockDuration: config.worker.stallMs,
    stalledInterval: config.worker.stallMs,
    // A job can be caught in several crashes in a row; it is failed (visibly) only after 10.
    maxStalledCount: 10,
    // No real limit (RateGate keeps the fleet under IM's), but BullMQ honours a hold on the
    // queue (queueHold) only where a limiter is set: with it, every worker of the fleet holds
    // back after IM says "too many requests", not just the one that heard it.
    limiter: { max: HOLD_MARK, duration: 1000 },
    autorun: false,
    settings: {
      backoffStrategy: (attemptsMade: number, type?: string) =>
        type === BACKOFF_TYPE ? cappedExponentialBackoff(attemptsMade, Math.random, overrides.backoffBaseMs) : cappedExponentialBackoff(attemptsMade),
    },
  });
  worker.on('error', (err) => app.log.warn({ reason: err.message }, 'worker connection error'));
  // A job done for good (completed, or failed with no attempt left) leaves its line and wakes
  // the next; close() waits for these.
  const leaving = new Set<Promise<void>>();
  const leave = (job: Job<InboundJob>, failed: boolean) => {
    const left = relayOne
      .done(job, failed)
      .catch((err: Error) => app.log.warn({ jobId: job.id, reason: err.message }, 'could not wake the next job in line; it wakes by itself'))
      .finally(() => leaving.delete(left));
    leaving.add(left);
  };
  worker.on('completed', (job) => leave(job, false));
  worker.on('failed', (job) => {
    if (job?.finishedOn) leave(job, true); // not when it will be retried
  });
  await app.register(healthRoutes, { redis: state, registry: metrics.registry, ready: () => worker.isRunning() });
  const shutdownTimeoutMs = overrides.shutdownTimeoutMs ?? 15_000;
  return {
    worker,
    app,
    im,
    runJob: processor,
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
      if ((await Promise.race([closing, timedOut])) === 'timeout') {
        app.log.warn({ jobs: inFlight.size, timeoutMs: shutdownTimeoutMs }, 'shutdown timed out: handing the jobs in flight back to the queue');
        // Jobs that finished meanwhile leave their lines first; then no relay step (line, turn)
        // runs any more, so a handed-back job's place in its line stays as it was.
        await settled(Promise.all(leaving), HAND_BACK_MS);
        state.disconnect();
        // Back to the front of the queue, lock released: another worker takes them at once. If
        // Redis cannot be reached, their locks expire instead and the stalled-job check takes over.
        await settled(Promise.allSettled([...inFlight.values()].map(({ job, token }) => job.moveToWait(token))), HAND_BACK_MS);
        // Abort the IM calls still in flight so the processors end now. A call IM did receive
        // is sent again by the next worker, with the same MsgSeq and MsgRandom: IM drops the repeat.
        await im.destroy();
        await settled(closing, HAND_BACK_MS);
      } else {
        await settled(Promise.all(leaving), HAND_BACK_MS);
        await im.close();
      }
      clearTimeout(timer);
      await app.close();
      await queue.close();
      state.disconnect();
      blocking.disconnect();
    },
  };
}
