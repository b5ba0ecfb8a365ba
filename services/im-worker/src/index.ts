export { CustomerRelay, type RelayResult } from './customer-relay.js';
export { type ImWorker, type ImWorkerOverrides, createImWorker } from './im-worker.js';
export { cloudCustomData, toImBody } from './message-mapping.js';
export { type ImWorkerMetrics, createImWorkerMetrics } from './metrics.js';
export { createProcessor } from './processor.js';
export { imWorkerService } from './service.js';
