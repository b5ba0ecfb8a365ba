import { platformBind } from '@wxim/config';
import type { ServiceDefinition } from '@wxim/host';
import { createGateway } from './gateway.js';

/** The wechat-gateway as a service: WeChat's pushes, verified and stored in wechat-inbound. */
export const wechatGatewayService: ServiceDefinition = {
  name: 'wechat-gateway',
  kind: 'http',
  requires: ['WECHAT_TOKEN', 'MEDIA_URL_SECRET'],
  port: (config) => config.ports.gateway,
  host: platformBind,
  build: (config, { processMetrics }) => createGateway(config, { processMetrics }),
  shutdownMs: 10_000,
  // ACCOUNTS_FILE: each Official Account's pushes at /wechat/<account>, its media links at
  // /media/<account>/<token> (/wechat and /media/<token> stay `default`'s).
  accountRoute: (url) => {
    const push = /^\/wechat\/([^/]+)$/.exec(url.pathname);
    if (push !== null) return { account: push[1]!, url: `/wechat${url.search}` };
    const media = /^\/media\/([^/]+)(\/[^/]+)$/.exec(url.pathname);
    return media === null ? undefined : { account: media[1]!, url: `/media${media[2]!}${url.search}` };
  },
};
