import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { type Pingable, redisAnswers } from './redis-ping.js';
import { registerRedisUp } from './redis-up-metric.js';

export interface HealthRouteOptions {
  redis: Pingable;
  registry: Registry;
  /** Further readiness, e.g. a worker that is running; Redis is always checked. */
  ready?: () => boolean;
}

/** The paths the health routes answer: probes and Prometheus reach them whatever else guards a service. */
export const HEALTH_PATHS: readonly string[] = ['/healthz', '/readyz', '/metrics'];

/**
 * `/healthz` (the process answers), `/readyz` (Redis answers: work can be taken), `/metrics`, with
 * `wxim_redis_up` from the same PING.
 */
export async function healthRoutes(app: FastifyInstance, opts: HealthRouteOptions): Promise<void> {
  registerRedisUp(opts.registry, opts.redis, 1000);
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ready = (opts.ready?.() ?? true) && (await redisAnswers(opts.redis, 1000));
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'redis unavailable' });
  });
  app.get('/metrics', async (_req, reply) => reply.type(opts.registry.contentType).send(await opts.registry.metrics()));
}
