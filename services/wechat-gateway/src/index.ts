export { gatewayApp, type GatewayAppOptions } from './app.js';
export { ENQUEUE_TIMEOUT_MS, type Gateway, type GatewayOverrides, createGateway } from './gateway.js';
export { InboundEnqueuer } from './inbound-enqueuer.js';
export { type GatewayMetrics, type Outcome, createGatewayMetrics } from './metrics.js';
export { wechatGatewayService } from './service.js';
export { byteRange } from './byte-range.js';
