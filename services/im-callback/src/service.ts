import { platformBind } from '@wxim/config';
import type { ServiceDefinition } from '@wxim/host';
import { createImCallback } from './im-callback.js';

/** im-callback as a service: IM's callbacks, agents' replies stored in agent-replies. */
export const imCallbackService: ServiceDefinition = {
  name: 'im-callback',
  kind: 'http',
  requires: ['IM_SDK_APP_ID', 'IM_SECRET_KEY', 'IM_AGENTS', 'IM_CALLBACK_TOKEN'],
  port: (config) => config.ports.callback,
  host: platformBind,
  build: (config, { processMetrics }) => createImCallback(config, { processMetrics }),
  shutdownMs: 10_000,
};
