import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

interface Pingable {
  ping(): Promise<string>;
}

export interface HealthRouteOptions {
  redis: Pingable;
  registry: Registry;
  /** Further readiness, e.g. a worker that is running; Redis is always checked. */
  ready?: () => boolean;
}

async function ping(redis: Pingable, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      redis.ping().then((r) => r === 'PONG'),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** `/healthz` (the process answers), `/readyz` (Redis answers: work can be taken), `/metrics`. */
export async function healthRoutes(app: FastifyInstance, opts: HealthRouteOptions): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ready = (opts.ready?.() ?? true) && (await ping(opts.redis, 1000));
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'redis unavailable' });
  });
  app.get('/metrics', async (_req, reply) => reply.type(opts.registry.contentType).send(await opts.registry.metrics()));
}
