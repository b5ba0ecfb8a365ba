import { createBullBoard } from '@bull-board/api';
import { FastifyAdapter } from '@bull-board/fastify';
import { type Config, loggerOptions } from '@wxim/config';
import { QUEUES, connectionSettings, createRedis, keyPrefix } from '@wxim/queue';
import { healthRoutes, localHosts, metricsRegistry, onlyKnownHosts } from '@wxim/runtime';
import { Queue } from 'bullmq';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { basicAuth } from './basic-auth.js';
import { boardActions } from './board-actions.js';
import { describeJob } from './job-description.js';
import { LoginThrottle } from './login-throttle.js';
import { registerQueueMetrics } from './queue-metrics.js';
import { registerRedisMemoryMetrics } from './redis-memory-metrics.js';
import { RelayQueueAdapter } from './retry-as-by-hand.js';

export interface Dashboard {
  app: FastifyInstance;
  queues: Queue[];
  close(): Promise<void>;
}

export interface DashboardOverrides {
  logStream?: NodeJS.WritableStream;
  processMetrics?: boolean;
  /** The clock failed logins are timed by. */
  now?: () => number;
}

/** The paths anyone who reaches the board's port may read: for probes and Prometheus. */
const OPEN_PATHS = ['/healthz', '/readyz', '/metrics'];

/**
 * The queue dashboard: bull-board over every queue of the relay; and the queues' depth and age as
 * Prometheus metrics. With DASHBOARD_PASSWORD the board is behind basic authentication (failed
 * logins throttled) and may retry, remove, promote, pause, resume and clean, unless
 * DASHBOARD_READ_ONLY. Without one it is read-only and answers only to this machine's names.
 */
export async function createDashboard(config: Config, overrides: DashboardOverrides = {}): Promise<Dashboard> {
  const redis = createRedis(connectionSettings(config, 'dashboard'), 'state');
  redis.on('error', () => {}); // reported through /readyz
  const prefix = keyPrefix(config.queuePrefix, config.redisCluster);
  const queues = Object.values(QUEUES).map((name) => new Queue(name, { connection: redis, prefix }));
  for (const q of queues) q.on('error', () => {});
  const registry = metricsRegistry({ processMetrics: overrides.processMetrics ?? false });
  registerQueueMetrics(registry, queues);
  registerRedisMemoryMetrics(registry, redis);

  const logger = { ...loggerOptions(config.logLevel, 'dashboard'), ...(overrides.logStream ? { stream: overrides.logStream } : {}) };
  const app = Fastify({ logger, logController: new LogController({ disableRequestLogging: true }) });
  const { user, password } = config.dashboard;
  const readOnly = password === undefined || config.dashboard.readOnly;
  // With a password any Host may ask: the browser keeps the login for the board's own name, so a
  // rebinding page gets 401 (and its guesses 429); an ingress or port-forward may use any name.
  if (password === undefined) {
    onlyKnownHosts(app, localHosts(config), { open: OPEN_PATHS });
  } else {
    const throttle = new LoginThrottle(overrides.now ? { now: overrides.now } : {});
    app.addHook('onRequest', basicAuth(user ?? 'admin', password, OPEN_PATHS, throttle));
  }
  app.addHook('onRequest', boardActions(!readOnly));
  await app.register(healthRoutes, { redis, registry });

  const board = new FastifyAdapter();
  createBullBoard({
    queues: queues.map((q) => {
      // allowCompletedRetries is read by bull-board's adapter but missing from its types: no retry button on completed jobs.
      const options = { readOnlyMode: readOnly, allowRetries: !readOnly, allowCompletedRetries: false, description: `prefix ${prefix}` };
      const adapter = new RelayQueueAdapter(q, options);
      adapter.setFormatter('name', (job) => describeJob(job as Parameters<typeof describeJob>[0]));
      return adapter;
    }),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'WeChat ⇄ IM relay' } },
  });
  board.setBasePath('/');
  await app.register(board.registerPlugin(), { prefix: '/' });
  return {
    app,
    queues,
    async close() {
      await app.close();
      await Promise.all(queues.map((q) => q.close()));
      redis.disconnect();
    },
  };
}
