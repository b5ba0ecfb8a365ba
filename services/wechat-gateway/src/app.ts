import type { FastifyInstance } from 'fastify';
import type { GatewayMetrics } from './metrics.js';
import { type WechatRouteOptions, wechatRoutes } from './wechat-routes.js';
import { type MediaRouteOptions, mediaRoutes } from './media-routes.js';

export interface GatewayAppOptions extends WechatRouteOptions {
  metrics: GatewayMetrics;
  /** Customers' voice and video by signed link (MEDIA_PUBLIC_URL set); no /media/ route without. */
  media?: MediaRouteOptions;
}

/** The gateway as a Fastify plugin: routes and metrics, no process concerns. */
export async function gatewayApp(app: FastifyInstance, opts: GatewayAppOptions): Promise<void> {
  const { metrics } = opts;
  app.addHook('onResponse', async (req, reply) => {
    if (req.routeOptions.url !== '/wechat') return;
    const status = reply.statusCode;
    const outcome = req.outcome ?? (status === 413 ? 'too_large' : status >= 500 ? 'error' : 'bad_request');
    metrics.requests.inc({ method: req.method, outcome });
    if (req.method === 'POST') metrics.ack.observe({ outcome }, reply.elapsedTime / 1000);
  });
  await app.register(wechatRoutes, opts);
  if (opts.media !== undefined) await app.register(mediaRoutes, opts.media);
}
