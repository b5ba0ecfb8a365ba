import { type Config, loggedAccount, loggerOptions } from '@wxim/config';
import { type RedisClient, accountPrefix, connectionSettings, createRedis } from '@wxim/queue';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import type { Registry } from 'prom-client';
import { HEALTH_PATHS, healthRoutes } from './health-routes.js';
import { closeAfterAnswerWhen, letAnswersLeaveBeforeClose } from './close-after-answer.js';
import { localHosts, onlyKnownHosts } from './known-hosts.js';
import { requestTimeLimit } from './request-time-limit.js';

/** What an HTTP service is built with: the host's Redis connection, key prefix and log. */
export interface HttpContext {
  /** The service's one connection: its queues and its own keys. */
  redis: RedisClient;
  /** The (hash-tagged) key prefix of every queue and key. */
  prefix: string;
  log: FastifyBaseLogger;
}

/** A check a request passes before its route: it answers (and so ends) the request, or lets it through. */
export type RequestGuard = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** What an HTTP service supplies: its routes and its own parts; the host runs the rest. */
export interface HttpHandler {
  /** The service's metrics, served at /metrics (with `wxim_redis_up`). */
  registry: Registry;
  /** The service's routes, in a context of their own, after the health routes. */
  routes: FastifyPluginAsync;
  /** Readiness beyond Redis answering, which /readyz always checks. */
  ready?(): boolean;
  /**
   * Checks every request passes first, in order, on the root: they see the health routes and
   * requests no route matches (404s) as well as the service's own.
   */
  guards?: readonly RequestGuard[];
  /** Told before the server stops taking requests. */
  closing?(): void;
  /** Closes the service's own parts (queues, clients) once the server has stopped; the host's Redis connection goes last. */
  close(): Promise<void>;
}

export interface HttpHostOptions<H extends HttpHandler> {
  /** The service's name, in logs and its Redis client name. */
  service: string;
  config: Config;
  /**
   * `queue` for a service that answers a platform within the platform's budget (a command fails at
   * once while Redis is away, so the answer is an error in time); `state` for one that may wait.
   */
  redisRole: 'queue' | 'state';
  /** The Fastify options in which the services differ; Fastify's defaults where absent. */
  server?: Pick<FastifyServerOptions, 'bodyLimit' | 'forceCloseConnections' | 'return503OnClosing'>;
  /** Answers only to this machine's names (421 to any other Host), the health paths excepted: for what needs no password. */
  localOnly?: boolean;
  build(context: HttpContext): H | Promise<H>;
  /** A pino destination stream, for tests that read the logs. */
  logStream?: NodeJS.WritableStream;
  /** The time a client has to send a request (REQUEST_TIME_LIMIT_MS), shorter in tests. */
  requestTimeLimitMs?: number;
}

export interface HttpHost<H extends HttpHandler> {
  /** Health routes and the service's routes; not listening. */
  app: FastifyInstance;
  redis: RedisClient;
  prefix: string;
  /** What `build` returned: the service's own parts. */
  handler: H;
  /** Tells the service it is closing (HttpHandler.closing), before whatever is in front of it stops taking requests. */
  closing(): void;
  /** Once, however often called: stops taking requests, then closes the service's parts and Redis. */
  close(): Promise<void>;
}

/**
 * An HTTP service, written once for every one of them: its Redis connection and key prefix, its
 * Fastify app with the relay's logger, the known-hosts check, /healthz, /readyz and /metrics, and a
 * shutdown in a fixed order. The service supplies its routes and its own parts through `build`.
 */
export async function createHttpHost<H extends HttpHandler>(options: HttpHostOptions<H>): Promise<HttpHost<H>> {
  const { config, service } = options;
  const prefix = accountPrefix(config.queuePrefix, config.redisCluster, config.account);
  const redis = createRedis(connectionSettings(config, service), options.redisRole);
  redis.on('error', () => {}); // reported through /readyz and the routes' own answers; ioredis reconnects by itself
  const logger = { ...loggerOptions(config.logLevel, service, loggedAccount(config)), ...(options.logStream ? { stream: options.logStream } : {}) };
  const app = Fastify({
    logger,
    logController: new LogController({ disableRequestLogging: true }),
    ...requestTimeLimit(options.requestTimeLimitMs),
    ...options.server,
  });
  if (options.localOnly) onlyKnownHosts(app, localHosts(config), { open: HEALTH_PATHS });
  let handler: H;
  try {
    handler = await options.build({ redis, prefix, log: app.log });
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  for (const guard of handler.guards ?? []) app.addHook('onRequest', guard);
  let stopping = false;
  closeAfterAnswerWhen(app, () => stopping);
  letAnswersLeaveBeforeClose(app);
  await app.register(healthRoutes, { redis, registry: handler.registry, ...(handler.ready === undefined ? {} : { ready: handler.ready.bind(handler) }) });
  await app.register(handler.routes);
  let closing: Promise<void> | undefined;
  return {
    app,
    redis,
    prefix,
    handler,
    closing() {
      handler.closing?.();
      stopping = true;
    },
    close() {
      closing ??= (async () => {
        handler.closing?.();
        stopping = true;
        await app.close();
        await handler.close();
        redis.disconnect();
      })();
      return closing;
    },
  };
}
