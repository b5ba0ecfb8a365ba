export { type HealthRouteOptions, healthRoutes } from './health-routes.js';
export { closeOnSignal } from './close-on-signal.js';
export { metricsRegistry } from './metrics-registry.js';
