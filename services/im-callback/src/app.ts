import type { RedisClient } from '@wxim/queue';
import { healthRoutes } from '@wxim/runtime';
import type { FastifyInstance } from 'fastify';
import { type CallbackRouteOptions, callbackRoutes } from './callback-routes.js';

export interface CallbackAppOptions extends CallbackRouteOptions {
  redis: RedisClient;
}

/** im-callback as a Fastify plugin: routes and metrics, no process concerns. */
export async function callbackApp(app: FastifyInstance, opts: CallbackAppOptions): Promise<void> {
  // Ready once the fleet knows this instance: a callback it takes is then never lost unseen.
  await app.register(healthRoutes, { redis: opts.redis, registry: opts.metrics.registry, ready: () => opts.watch.known });
  await app.register(callbackRoutes, opts);
}
