export { QUEUES, type QueueName, accountPrefix, keyPrefix } from './names.js';
export { type AgentSignal, type InboundJob, type RecallOutcome, type ReplyElement, type ReplyJob, UNCONFIRMED_REASON, isSameReply } from './payloads.js';
export { replyJobId, signalJobId } from './reply-ids.js';
export {
  type ConnectionRole,
  type ConnectionSettings,
  type RedisClient,
  type SentinelSettings,
  connectionSettings,
  createRedis,
  whenConnected,
} from './connection.js';
export { BACKOFF_TYPE, DEFAULT_JOB_OPTIONS, FAILED_KEPT_MS, GATEWAY_CLOCK_MARGIN_S, cappedExponentialBackoff, dedupeTtlMs } from './job-options.js';
export { retryFailedJobs } from './retry-failed.js';
export { REMOVABLE_STATES, cleanByHand, removeByHand } from './remove-by-hand.js';
export { HAND_MS, handKey, withJobInHand } from './job-in-hand.js';
export { AWAY_RETRY_MS, redisAway, whileRedisAway } from './redis-away.js';
export { EarlierStillWaiting, InOrderWhileAway } from './in-order-while-away.js';
export {
  type Besides,
  type BesidesResults,
  type DurableJob,
  DurableEnqueuer,
  EnqueueTimeout,
  type LineAppender,
  ReplicasBehind,
  type TransactionPart,
} from './durable-enqueuer.js';
export {
  JOB_FIELDS,
  type JobToAdd,
  type QueueLayout,
  addJobIn,
  dedupeKey,
  jobKey,
  jobKeyPrefix,
  jobLockKey,
  layoutOf,
  queueClient,
  queueLayout,
  storeConnection,
} from './bullmq-layout.js';
