// Test and benchmark tooling: never shipped in a production image.
export * from './eventually.js';
export * from './gateway.js';
export * from './im-process.js';
export * from './load.js';
export * from './local-redis.js';
export * from './replica-pair.js';
export * from './redis-cluster.js';
export * from './redis-sentinel.js';
export * from './relay.js';
export * from './service-process.js';
export * from './test-redis.js';
export * from './worker-process.js';
export * from './two-way.js';
export * from './launcher-process.js';
export * from './between-commands.js';
export * from './accounts-relay.js';
export * from './redis-monitor.js';
