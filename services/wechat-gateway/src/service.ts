import { platformBind } from '@wxim/config';
import type { ServiceDefinition } from '@wxim/host';
import { createGateway } from './gateway.js';

/** The wechat-gateway as a service: WeChat's pushes, verified and stored in wechat-inbound. */
export const wechatGatewayService: ServiceDefinition = {
  name: 'wechat-gateway',
  kind: 'http',
  requires: ['WECHAT_TOKEN'],
  port: (config) => config.ports.gateway,
  host: platformBind,
  build: (config, { processMetrics }) => createGateway(config, { processMetrics }),
  shutdownMs: 10_000,
  // ACCOUNTS_FILE: each Official Account's pushes at /wechat/<account> (/wechat stays `default`'s).
  accountRoute: (url) => {
    const m = /^\/wechat\/([^/]+)$/.exec(url.pathname);
    return m === null ? undefined : { account: m[1]!, url: `/wechat${url.search}` };
  },
};
