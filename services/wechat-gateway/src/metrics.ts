import { metricsRegistry } from '@wxim/host';
import { Counter, Histogram, type Registry } from 'prom-client';

export type Outcome =
  'enqueued' | 'welcomed' | 'auto_replied' | 'verified' | 'unauthorized' | 'bad_request' | 'too_large' | 'unavailable' | 'misconfigured' | 'error';

export interface GatewayMetrics {
  registry: Registry;
  requests: Counter<'method' | 'outcome'>;
  ack: Histogram<'outcome'>;
}

/** One registry per gateway instance, so that tests and the all-in-one process can hold several. */
export function createGatewayMetrics(options: { processMetrics?: boolean } = {}): GatewayMetrics {
  const registry = metricsRegistry(options);
  return {
    registry,
    requests: new Counter({
      name: 'wxim_gateway_requests_total',
      help: 'Requests to /wechat by method and outcome',
      labelNames: ['method', 'outcome'],
      registers: [registry],
    }),
    ack: new Histogram({
      name: 'wxim_gateway_ack_seconds',
      help: 'Time from a push arriving to the answer to WeChat, by outcome',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
}
