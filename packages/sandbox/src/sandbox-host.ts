import { type Config, SANDBOX_ACCOUNTS, httpOrigin, localAddress, sandboxHost, sandboxPorts, sandboxUrl, pushPath } from '@wxim/config';
import { localHosts } from '@wxim/host';
import { accountPrefix, connectionSettings, createRedis } from '@wxim/queue';
import { DeskView, stateKeys } from '@wxim/state';
import { ImSimulator } from './im-simulator.js';
import { type SandboxPageAccount, SandboxPage } from './page/sandbox-page.js';
import { type PlatformFront, imApps, wechatApiApps } from './platform-front.js';
import { WechatApiSimulator } from './wechat-api-simulator.js';
import { WechatPlatform } from './wechat-platform.js';

export interface SandboxHost {
  /** Every account's IM app, on the one port (by `sdkappid`). */
  im: PlatformFront<ImSimulator>;
  /** Every account's WeChat API, on the one port (by AppID and access_token). */
  wechatApi: PlatformFront<WechatApiSimulator>;
  /** Sandbox mode's Official Accounts (`default`, then `second`), each with its IM app, API and customers' pushes. */
  accounts: readonly SandboxPageAccount[];
  page: SandboxPage;
  /** Where each part listens, as this machine reaches it. */
  urls: { page: string; im: string; wechatApi: string };
  close(): Promise<void>;
}

/**
 * Sandbox mode's stand-ins for the platforms, all in this process: the sandbox page on
 * SANDBOX_PORT, the IM simulator on the next port and the WeChat API simulator on the one after,
 * on LOCAL_BIND. Each simulator plays the apps of both of sandbox mode's accounts (SANDBOX_ACCOUNTS)
 * on its one port, as each platform serves all of its apps at one address. The IM apps call
 * im-callback at SANDBOX_CALLBACK_URL, which tells them apart by SdkAppid; the page pushes to the
 * gateway at SANDBOX_GATEWAY_URL (`/wechat` for `default`, `/wechat/<account>` for another), and
 * reads each account's service desk from the relay's Redis (REDIS_URL, under sandbox mode's prefix).
 */
export async function startSandboxHost(config: Config): Promise<SandboxHost> {
  const ports = sandboxPorts(config);
  const { gatewayUrl, callbackUrl } = config.sandboxLinks;
  // `queue`: a look that fails at once while Redis is away, so the page says so instead of hanging.
  const redis = createRedis(connectionSettings(config, 'sandbox'), 'queue');
  redis.on('error', () => {}); // the page shows the desk as unavailable; ioredis reconnects by itself
  const accounts = SANDBOX_ACCOUNTS.map((a): SandboxPageAccount => ({
    id: a.id,
    agents: a.imAgents,
    im: new ImSimulator({
      sdkAppId: a.imSdkAppId,
      secretKey: a.imSecretKey,
      admin: a.imAdmin,
      agents: a.imAgents,
      callback: { url: callbackUrl, token: a.imCallbackToken },
    }),
    wechatApi: new WechatApiSimulator({ appId: a.appId, secret: a.appSecret }),
    wechat: new WechatPlatform({
      gatewayUrl,
      pushPath: pushPath(a.id),
      token: a.token,
      appId: a.appId,
      encodingAesKey: a.encodingAesKey,
      accountId: a.accountId,
      mode: 'safe',
    }),
    desk: new DeskView(redis, stateKeys(accountPrefix(config.queuePrefix, config.redisCluster, a.id)), a.imAgents),
  }));
  const im = imApps(accounts.map((a) => a.im));
  const wechatApi = wechatApiApps(accounts.map((a) => a.wechatApi));
  const page = new SandboxPage({
    accounts,
    selfUrl: sandboxUrl(config, ports.page),
    dashboardPort: config.ports.dashboard,
    // The names the page answers to: this machine's, and the ones the services and LOCAL_BIND give it.
    hosts: [...localHosts(config), sandboxHost(config)],
  });
  const started: { close(): Promise<void> }[] = [{ close: async () => redis.disconnect() }];
  const close = async () => {
    while (started.length > 0) await started.pop()!.close();
  };
  try {
    await im.listen(ports.im, config.localBind);
    started.push(im);
    await wechatApi.listen(ports.wechatApi, config.localBind);
    started.push(wechatApi);
    await page.listen(ports.page, config.localBind);
    started.push(page);
  } catch (err) {
    await close();
    throw err;
  }
  // As a person on this machine opens them.
  const local = (port: number) => httpOrigin(localAddress(config), port);
  return { im, wechatApi, accounts, page, urls: { page: local(ports.page), im: local(ports.im), wechatApi: local(ports.wechatApi) }, close };
}
