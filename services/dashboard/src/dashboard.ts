import { createBullBoard } from '@bull-board/api';
import { FastifyAdapter } from '@bull-board/fastify';
import { type Config, loggedAccount } from '@wxim/config';
import { QUEUES, type QueueName } from '@wxim/queue';
import { HEALTH_PATHS, accountKeys, appLoadPlaces, createHttpHost, metricsRegistry } from '@wxim/host';
import { Queue } from 'bullmq';
import { AgentLoad, lineOnRetry } from '@wxim/state';
import type { FastifyInstance } from 'fastify';
import { countsRoute } from './accounts-page.js';
import { basicAuth } from './basic-auth.js';
import { boardActions } from './board-actions.js';
import { describeJob } from './job-description.js';
import { LoginThrottle } from './login-throttle.js';
import { registerDeskMetrics, waitingJobIds } from './desk-metrics.js';
import { deskRoutes, readDesk } from './desk-page.js';
import { registerQueueMetrics } from './queue-metrics.js';
import { registerRedisMemoryMetrics } from './redis-memory-metrics.js';
import { RelayQueueAdapter } from './retry-as-by-hand.js';
import { noFraming } from './no-framing.js';

export interface Dashboard {
  app: FastifyInstance;
  queues: Queue[];
  /** Told before whatever is in front of it (the accounts front) stops taking requests: its answers close their connections. */
  closing(): void;
  close(): Promise<void>;
}

export interface DashboardOverrides {
  logStream?: NodeJS.WritableStream;
  processMetrics?: boolean;
  /** The clock failed logins are timed by. */
  now?: () => number;
  /** Where the front lists every account (several accounts): the board links back to it. */
  accountsList?: string;
  /** The count of failed logins, when the boards of several accounts share it (one password opens them all). */
  loginThrottle?: LoginThrottle;
}

/**
 * The queue dashboard: bull-board over every queue of the relay; and the queues' depth and age as
 * Prometheus metrics. With DASHBOARD_PASSWORD the board is behind basic authentication (failed
 * logins throttled) and may retry, remove, promote, pause, resume and clean, unless
 * DASHBOARD_READ_ONLY. Without one it is read-only and answers only to this machine's names.
 */
export async function createDashboard(config: Config, overrides: DashboardOverrides = {}): Promise<Dashboard> {
  const { user, password } = config.dashboard;
  const readOnly = password === undefined || config.dashboard.readOnly;
  const host = await createHttpHost({
    service: 'dashboard',
    config,
    redisRole: 'state',
    // With a password any Host may ask: the browser keeps the login for the board's own name, so a
    // rebinding page gets 401 (and its guesses 429); an ingress or port-forward may use any name.
    localOnly: password === undefined,
    ...(overrides.logStream ? { logStream: overrides.logStream } : {}),
    build: ({ redis, prefix }) => {
      const queues = Object.values(QUEUES).map((name) => new Queue(name, { connection: redis, prefix }));
      for (const q of queues) q.on('error', () => {});
      const registry = metricsRegistry({ processMetrics: overrides.processMetrics ?? false });
      const keys = accountKeys(config, prefix);
      registerQueueMetrics(registry, queues, undefined, () => waitingJobIds(redis, keys));
      const [loads, appDesks] = [new AgentLoad(redis, keys), appLoadPlaces(config).accounts];
      registerDeskMetrics(registry, redis, keys, config.im.agents, () => loads.drift(appDesks));
      registerRedisMemoryMetrics(registry, redis);
      const login =
        password === undefined
          ? []
          : [basicAuth(user ?? 'admin', password, HEALTH_PATHS, overrides.loginThrottle ?? new LoginThrottle(overrides.now ? { now: overrides.now } : {}))];
      return {
        queues,
        registry,
        guards: [
          noFraming,
          ...login,
          boardActions(!readOnly, queues, password === undefined ? undefined : (user ?? 'admin'), (queue) => lineOnRetry(redis, keys, queue.name as QueueName)),
        ],
        routes: async (app: FastifyInstance) => {
          deskRoutes(app, () => readDesk(redis, keys, config.im.agents));
          countsRoute(app, queues);
          await boardRoutes(app, queues, prefix, readOnly, loggedAccount(config), overrides.accountsList);
        },
        close: async () => {
          await Promise.all(queues.map((q) => q.close()));
        },
      };
    },
  });
  return { app: host.app, queues: host.handler.queues, closing: () => host.closing(), close: () => host.close() };
}

/**
 * bull-board over `queues`, at the root, read-only or not. An account of ACCOUNTS_FILE (or sandbox mode's `second`) has its
 * board at /accounts/<account>/ (where the dashboard's front hands its requests on), named in its title; with several
 * accounts each board's header links to their list (`accountsList`).
 */
async function boardRoutes(app: FastifyInstance, queues: Queue[], prefix: string, readOnly: boolean, account?: string, accountsList?: string): Promise<void> {
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
    options: {
      uiConfig: {
        boardTitle: account === undefined ? 'WeChat ⇄ IM relay' : `WeChat ⇄ IM relay · ${account}`,
        // In the board's header, beside its own links: back to the list of every account's board.
        ...(accountsList === undefined ? {} : { miscLinks: [{ text: 'All accounts', url: accountsList }] }),
      },
    },
  });
  board.setBasePath(account === undefined ? '/' : `/accounts/${account}/`);
  await app.register(board.registerPlugin(), { prefix: '/' });
}
