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
  // ACCOUNTS_FILE: IM names its app in every callback (SdkAppid); /im/callback/<account> names an
  // account, and with it every account that shares its app: IM has one callback URL per app, so
  // the others' replies, recalls and agents' states come by that path too.
  accountRoute: (url, accounts) => {
    const m = /^\/im\/callback(?:\/([^/]+))?$/.exec(url.pathname);
    if (m === null) return undefined;
    if (m[1] !== undefined) {
      const named = accounts.find((a) => a.account === m[1]);
      const sharing = named?.im.sdkAppId === undefined ? [] : accounts.filter((a) => a.im.sdkAppId === named.im.sdkAppId).map((a) => a.account);
      return { account: sharing.length > 1 ? sharing : m[1], url: `/im/callback${url.search}` };
    }
    // Accounts that share the app each take the callback: each stores only its own customers' replies.
    const app = Number(url.searchParams.get('SdkAppid'));
    const sharing = accounts.filter((a) => a.im.sdkAppId === app).map((a) => a.account);
    return sharing.length === 0 ? undefined : { account: sharing, url: `/im/callback${url.search}` };
  },
};
