import { metricsRegistry } from '@wxim/host';
import { Counter, Histogram, type Registry } from 'prom-client';
import { VIDEO_CUTS } from './media-routes.js';

export type Outcome =
  'enqueued' | 'welcomed' | 'auto_replied' | 'verified' | 'unauthorized' | 'bad_request' | 'too_large' | 'unavailable' | 'misconfigured' | 'error';

export interface GatewayMetrics {
  registry: Registry;
  requests: Counter<'method' | 'outcome'>;
  ack: Histogram<'outcome'>;
  videoCuts: Counter<'why'>;
  storeRetries: Counter<'step'>;
}

/** One registry per gateway instance, so that tests and the all-in-one process can hold several. */
export function createGatewayMetrics(options: { processMetrics?: boolean } = {}): GatewayMetrics {
  const registry = metricsRegistry(options);
  const videoCuts = new Counter({
    name: 'wxim_gateway_video_cut_total',
    help: "Customers' videos an agent's player asked for that did not stream whole, by why: busy (every stream place taken, answered 503), deadline (10 minutes), stall (no byte moved for a minute: a paused player, WeChat stalled), too_large (past the 50 MB the relay streams)",
    labelNames: ['why'],
    registers: [registry],
  });
  for (const why of VIDEO_CUTS) videoCuts.inc({ why }, 0);
  const requests = new Counter({
    name: 'wxim_gateway_requests_total',
    help: 'Requests to /wechat by method and outcome',
    labelNames: ['method', 'outcome'],
    registers: [registry],
  });
  // WximGatewayErrors watches these with rate(): a series born at 1 would hide a pod's first.
  for (const method of ['GET', 'POST']) for (const outcome of ['misconfigured', 'error'] satisfies Outcome[]) requests.inc({ method, outcome }, 0);
  const storeRetries = new Counter({
    name: 'wxim_gateway_store_retries_total',
    help: "Tries again because Redis was away (restarting, failing over, cut off), one per push per try, every 100 ms within the push's 4 s, by step: store (the push's job) or address (a plain push's address, bound to its body before the store); WeChat is answered once a try succeeds",
    labelNames: ['step'],
    registers: [registry],
  });
  for (const step of ['store', 'address']) storeRetries.inc({ step }, 0);
  return {
    videoCuts,
    storeRetries,
    registry,
    requests,
    ack: new Histogram({
      name: 'wxim_gateway_ack_seconds',
      help: 'Time from a push arriving to the answer to WeChat, by outcome',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
}
