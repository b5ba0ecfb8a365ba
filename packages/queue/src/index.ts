export { QUEUES, type QueueName, keyPrefix } from './names.js';
export type { InboundJob } from './payloads.js';
export { type ConnectionRole, type ConnectionSettings, type RedisClient, createRedis } from './connection.js';
export { BACKOFF_TYPE, DEDUPE_TTL_MS, DEFAULT_JOB_OPTIONS, cappedExponentialBackoff } from './job-options.js';
export { retryFailedJobs } from './retry-failed.js';
