import { type Config, loggerOptions } from '@wxim/config';
import { DEFAULT_JOB_OPTIONS, QUEUES, type ReplyJob, connectionSettings, createRedis, keyPrefix } from '@wxim/queue';
import { ConversationLine, DeskPresence, FleetLock, stateKeys } from '@wxim/relay';
import { createImClient, imShareGate, requireImSettings } from '@wxim/runtime';
import { Queue } from 'bullmq';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { CALLBACK_BODY_LIMIT } from './callback-routes.js';
import { callbackApp } from './app.js';
import { ActiveConversations } from './active-conversations.js';
import { CallbackSweep } from './callback-sweep.js';
import { CallbackWatch } from './callback-watch.js';
import { HistoryScan } from './history-scan.js';
import { OwedLooks } from './owed-looks.js';
import { createCallbackMetrics } from './metrics.js';
import { CallbackRecovery } from './recovery.js';
import { ReplyStore } from './reply-store.js';

export interface ImCallback {
  app: FastifyInstance;
  queue: Queue<ReplyJob>;
  recovery: CallbackRecovery;
  watch: CallbackWatch;
  sweep: CallbackSweep;
  /** Starts the heartbeat (and a recovery, if callbacks may have been missed while no instance ran) and the sweeps. */
  start(): void;
  close(): Promise<void>;
}

export interface ImCallbackOverrides {
  /** Budget for storing a reply before answering an error (IM waits 2 s in all). */
  enqueueTimeoutMs?: number;
  logStream?: NodeJS.WritableStream;
  processMetrics?: boolean;
  /** How often the heartbeat is written (2 s); tests shorten it. */
  heartbeatMs?: number;
  /** How long ago a sweep looks up to (30 s); tests shorten it. */
  sweepSettleMs?: number;
}

export const ENQUEUE_TIMEOUT_MS = 1500;

/** Builds im-callback from configuration: its Redis connection, queue, recovery and Fastify app (not listening). */
export async function createImCallback(config: Config, overrides: ImCallbackOverrides = {}): Promise<ImCallback> {
  const { sdkAppId } = requireImSettings(config);
  const prefix = keyPrefix(config.queuePrefix, config.redisCluster);
  const keys = stateKeys(prefix);
  const redis = createRedis(connectionSettings(config, 'im-callback'), 'queue');
  redis.on('error', () => {}); // reported through /readyz and error answers; ioredis reconnects by itself
  const queue = new Queue<ReplyJob>(QUEUES.agentReplies, { connection: redis, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
  queue.on('error', () => {});
  const presence = new DeskPresence(redis, keys, prefix);
  const metrics = createCallbackMetrics({
    processMetrics: overrides.processMetrics ?? false,
    recovery: {
      sweepPeriodMs: config.callbackSweepMs,
      // Read at scrape time, once everything below is built.
      sweep: () => sweep.state(),
      gaps: async () => {
        const [waiting, oldest] = await Promise.all([redis.zcard(keys.callbackGaps), redis.zrange(keys.callbackGaps, 0, 0, 'WITHSCORES')]);
        return { waiting, ...(oldest[1] === undefined ? {} : { oldestFrom: Number(oldest[1]) }) };
      },
    },
  });
  const logger = { ...loggerOptions(config.logLevel, 'im-callback'), ...(overrides.logStream ? { stream: overrides.logStream } : {}) };
  const app = Fastify({
    logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: CALLBACK_BODY_LIMIT,
    forceCloseConnections: false,
    // Refused by the routes instead, so that a callback refused while closing is marked as missed.
    return503OnClosing: false,
  });
  const agents = new Set(config.im.agents);
  const store = new ReplyStore(
    redis,
    keys,
    queue,
    new ConversationLine(redis, keys, QUEUES.agentReplies, keys.replyProgress),
    agents,
    overrides.enqueueTimeoutMs ?? ENQUEUE_TIMEOUT_MS,
    config.redisWaitReplicas,
    config.callbackSweepMs > 0,
  );
  const im = createImClient(config, metrics);
  const recoveryTurn = imShareGate(redis, keys, config, 'recovery');
  const scan = new HistoryScan({ redis, keys, im, store, agents, turn: recoveryTurn, log: app.log });
  const active = new ActiveConversations({ redis, keys, im, agents: config.im.agents, turn: recoveryTurn, log: app.log });
  const owed = new OwedLooks(redis, keys);
  // One look through IM's history at a time in the fleet, renewed as it goes: a customer's found replies keep their order.
  const lock = new FleetLock(redis, keys.historyLock, 60_000);
  const watch = new CallbackWatch(redis, keys, () => recovery.trigger(), overrides.heartbeatMs, app.log);
  const recovery: CallbackRecovery = new CallbackRecovery({
    redis,
    keys,
    watch,
    scan,
    active,
    owed,
    lock,
    log: app.log,
    onRecovered: (n) => metrics.recovered.inc({ via: 'gap' }, n),
  });
  const sweep = new CallbackSweep({
    redis,
    keys,
    scan,
    active,
    owed,
    lock,
    periodMs: config.callbackSweepMs,
    ...(overrides.sweepSettleMs === undefined ? {} : { settleMs: overrides.sweepSettleMs }),
    log: app.log,
    onSweep: (outcome, seconds, found) => {
      metrics.sweeps.inc({ outcome });
      metrics.sweepSeconds.observe(seconds);
      if (found > 0) metrics.recovered.inc({ via: 'sweep' }, found);
    },
  });
  await app.register(callbackApp, {
    sdkAppId,
    ...(config.im.callbackToken === undefined ? {} : { token: config.im.callbackToken }),
    store,
    watch,
    recordState: async (account, state) => {
      if (!agents.has(account)) return;
      if (!(await presence.record(account, state)) || state.action !== 'Login') return;
      // Waiting customers look for an agent at once rather than at their next look (within 30 s).
      await presence
        .wakeWaiting(config.desk.maxOpen)
        .catch((err: Error) => app.log.warn({ reason: err.message }, 'could not wake the waiting conversations; they look again by themselves'));
    },
    metrics,
    redis,
  });
  let closing: Promise<void> | undefined;
  return {
    app,
    queue,
    recovery,
    watch,
    sweep,
    start() {
      watch.start(); // its first beat also looks at gaps a recovery that did not finish left behind
      sweep.start();
    },
    close() {
      closing ??= (async () => {
        watch.closingNow();
        await app.close();
        await watch.stop();
        await sweep.stop();
        await recovery.idle();
        await im.close();
        await queue.close();
        redis.disconnect();
      })();
      return closing;
    },
  };
}
