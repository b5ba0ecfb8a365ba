import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * A registry of a service's own, so that tests and the all-in-one process can hold several
 * services; with `processMetrics`, Node's process metrics too (one process may report them once).
 */
export function metricsRegistry(options: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  return registry;
}
