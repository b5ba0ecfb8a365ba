import type { ServiceDefinition } from '@wxim/host';
import { createImWorker } from './im-worker.js';

/** The im-worker as a service: WeChat pushes from wechat-inbound to Tencent IM. */
export const imWorkerService: ServiceDefinition = {
  name: 'im-worker',
  kind: 'worker',
  requires: ['IM_SDK_APP_ID', 'IM_SECRET_KEY', 'IM_AGENTS', 'MEDIA_URL_SECRET'],
  port: (config) => config.ports.imWorker,
  build: (config, { processMetrics }) => createImWorker(config, { processMetrics }),
  // Jobs in flight get 15 s to finish (see createWorkerHost), then are handed back.
  shutdownMs: 30_000,
};
