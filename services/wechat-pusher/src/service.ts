import type { ServiceDefinition } from '@wxim/host';
import { createWechatPusher } from './wechat-pusher.js';

/** The wechat-pusher as a service: agent replies from agent-replies to WeChat customers. */
export const wechatPusherService: ServiceDefinition = {
  name: 'wechat-pusher',
  kind: 'worker',
  requires: ['WECHAT_APP_ID', 'WECHAT_APP_SECRET', 'IM_SDK_APP_ID', 'IM_SECRET_KEY', 'IM_AGENTS'],
  port: (config) => config.ports.pusher,
  build: (config, { processMetrics }) => createWechatPusher(config, { processMetrics }),
  shutdownMs: 30_000,
};
