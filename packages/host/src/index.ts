export { HEALTH_PATHS, type HealthRouteOptions, healthRoutes } from './health-routes.js';
export { type HttpContext, type HttpHandler, type HttpHost, type HttpHostOptions, type RequestGuard, createHttpHost } from './http-host.js';
export { closeOnSignal } from './close-on-signal.js';
export { type KnownHostsOptions, localHosts, onlyKnownHosts } from './known-hosts.js';
export { EVENT_LOOP_SAMPLE_MS, metricsRegistry } from './metrics-registry.js';
export { RedisOutageLog, isConnectionLoss } from './redis-outage-log.js';
export { type HostOverrides, type JobHandler, type WorkerContext, type WorkerHost, type WorkerHostOptions, createWorkerHost } from './worker-host.js';
export {
  type AccountService,
  type BuildOptions,
  type MissedReason,
  type RunningService,
  type ServiceDefinition,
  LISTEN_BACKLOG,
  listenHost,
} from './service-definition.js';
export { type Started, runServices } from './run-services.js';
export { createImClient, requireImSettings } from './im-client.js';
export { WECHAT_PACE, fleetPace, fleetRateGate, imShareGate } from './rate-gates.js';
export { accountKeys, appLoadPlaces, imPacePrefix, otherAppDesks } from './account-keys.js';
export { platformHolds } from './platform-holds.js';
export { type Decision, type RetryClassed, decide, errorFor } from './error-policy.js';
export {
  type Attempt,
  type Head,
  type JobWords,
  type OrderedJobSpec,
  type OrderedJobs,
  type OrderedJobsDeps,
  type TurnLook,
  orderedJobs,
  sleepUntil,
} from './ordered-jobs.js';
export { LOOK_AGAIN_MS, deskPolicy } from './desk-policy.js';
export { FleetCheck, type FleetCheckOptions } from './fleet-check.js';
export { type AccountRoute, type AccountTarget, buildForAccounts } from './account-front.js';
export { mergeAccountMetrics } from './account-metrics.js';
export { readRequestBody } from './request-body.js';
export { REQUEST_TIME_LIMIT_MS, requestTimeLimit } from './request-time-limit.js';
