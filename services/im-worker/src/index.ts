export { CustomerRelay, type RelayResult } from './customer-relay.js';
export { type ImWorker, type ImWorkerOverrides, createImWorker } from './im-worker.js';
export { cloudCustomData, toImBody } from './message-mapping.js';
export { MEDIA_DECISION_KEPT_MS } from './customer-media.js';
export { type ImWorkerMetrics, createImWorkerMetrics } from './metrics.js';
export { createProcessor } from './processor.js';
export { imWorkerService } from './service.js';
