import { type Config, SANDBOX, httpOrigin, localAddress, sandboxHost, sandboxPorts, sandboxUrl } from '@wxim/config';
import { localHosts } from '@wxim/host';
import { connectionSettings, createRedis, keyPrefix } from '@wxim/queue';
import { DeskView, stateKeys } from '@wxim/state';
import { ImSimulator } from './im-simulator.js';
import { SandboxPage } from './page/sandbox-page.js';
import { WechatApiSimulator } from './wechat-api-simulator.js';
import { WechatPlatform } from './wechat-platform.js';

export interface SandboxHost {
  im: ImSimulator;
  wechatApi: WechatApiSimulator;
  page: SandboxPage;
  /** Where each part listens, as this machine reaches it. */
  urls: { page: string; im: string; wechatApi: string };
  close(): Promise<void>;
}

/**
 * Sandbox mode's stand-ins for the platforms, all in this process: the sandbox page on
 * SANDBOX_PORT, the IM simulator on the next port and the WeChat API simulator on the one after,
 * on LOCAL_BIND. The IM simulator calls im-callback at SANDBOX_CALLBACK_URL; the page pushes to the
 * gateway at SANDBOX_GATEWAY_URL, and reads the service desk from the relay's Redis (REDIS_URL, under
 * sandbox mode's prefix).
 */
export async function startSandboxHost(config: Config): Promise<SandboxHost> {
  const ports = sandboxPorts(config);
  const { gatewayUrl, callbackUrl } = config.sandboxLinks;
  const im = new ImSimulator({
    sdkAppId: SANDBOX.imSdkAppId,
    secretKey: SANDBOX.imSecretKey,
    admin: SANDBOX.imAdmin,
    agents: SANDBOX.imAgents,
    callback: { url: callbackUrl, token: SANDBOX.imCallbackToken },
  });
  const wechatApi = new WechatApiSimulator({ appId: SANDBOX.appId, secret: SANDBOX.appSecret });
  const wechat = new WechatPlatform({
    gatewayUrl,
    token: SANDBOX.token,
    appId: SANDBOX.appId,
    encodingAesKey: SANDBOX.encodingAesKey,
    accountId: SANDBOX.accountId,
    mode: 'safe',
  });
  // `queue`: a look that fails at once while Redis is away, so the page says so instead of hanging.
  const redis = createRedis(connectionSettings(config, 'sandbox'), 'queue');
  redis.on('error', () => {}); // the page shows the desk as unavailable; ioredis reconnects by itself
  const desk = new DeskView(redis, stateKeys(keyPrefix(config.queuePrefix, config.redisCluster)), SANDBOX.imAgents);
  const page = new SandboxPage({
    im,
    wechatApi,
    wechat,
    agents: SANDBOX.imAgents,
    selfUrl: sandboxUrl(config, ports.page),
    dashboardPort: config.ports.dashboard,
    // The names the page answers to: this machine's, and the ones the services and LOCAL_BIND give it.
    hosts: [...localHosts(config), sandboxHost(config)],
    desk,
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
  return { im, wechatApi, page, urls: { page: local(ports.page), im: local(ports.im), wechatApi: local(ports.wechatApi) }, close };
}
