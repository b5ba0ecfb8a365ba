export { type CallbackRouteOptions, callbackRoutes } from './callback-routes.js';
export { CallbackWatch, type Gap, HEARTBEAT_MS } from './callback-watch.js';
export { ENQUEUE_TIMEOUT_MS, type ImCallback, type ImCallbackOverrides, createImCallback } from './im-callback.js';
export { type CallbackMetrics, createCallbackMetrics } from './metrics.js';
export { CallbackRecovery, rangesOf } from './recovery.js';
export { CallbackSweep, SETTLE_MS, type SweepState } from './callback-sweep.js';
export { HORIZON_MS, HistoryScan, MARGIN_MS } from './history-scan.js';
export { REPLY_DEDUPE_MS, ReplyStore, replyJobId } from './reply-store.js';
export { imCallbackService } from './service.js';
