import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * How often the event loop's delay is sampled (ms). prom-client's default, 10, wakes an idle
 * process 100 times a second (~4 ms of CPU a second each, measured); every 100 ms still catches
 * any stall that matters to a relay and wakes it 10 times.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/**
 * A registry of a service's own, so that tests and the all-in-one process can hold several
 * services; with `processMetrics`, Node's process metrics too (one process may report them once).
 */
export function metricsRegistry(options: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  return registry;
}
