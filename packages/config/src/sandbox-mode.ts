import type { Config } from './config.js';
import { SANDBOX_MEDIA_URL_SECRET } from './media-settings.js';

/**
 * The credentials of sandbox mode: a made-up Official Account and IM app that exist only in the
 * simulators. Nothing here is a secret; they let `npm start` and `docker compose up` run with no
 * configuration at all.
 */
export const SANDBOX = {
  token: 'sandboxtoken',
  appId: 'wxsandbox000000000',
  appSecret: 'sandboxsecret0000000000000000000',
  encodingAesKey: 'SandboxEncodingAesKey0000000000000000000000',
  accountId: 'gh_sandbox000001',
  imSdkAppId: 1400000001,
  imSecretKey: 'sandboxsecretkey0000000000000000sandboxsecretkey0000000000000000',
  imAdmin: 'administrator',
  imAgents: ['agent1', 'agent2'],
  imCallbackToken: 'sandboxcallbacktoken',
} as const;

/** Sandbox mode: asked for, or by default when no platform credential at all is configured. */
export function isSandbox(config: Config): boolean {
  if (config.sandboxed) return true;
  if (config.sandbox !== undefined) return config.sandbox;
  const { wechat, im } = config;
  return [wechat.token, wechat.appId, wechat.appSecret, wechat.encodingAesKey, im.sdkAppId, im.secretKey].every((v) => v === undefined);
}

/** The key prefix of sandbox mode: its own, beside the configured one (QUEUE_PREFIX). */
export function sandboxPrefix(queuePrefix: string): string {
  return `${queuePrefix.slice(0, 24)}-sandbox`;
}

/**
 * Where the sandbox's parts listen, from SANDBOX_PORT: the page on it, the IM simulator on the
 * next port and the WeChat API simulator on the one after.
 */
export function sandboxPorts(config: Config): { page: number; im: number; wechatApi: number } {
  const page = config.ports.sandbox;
  return { page, im: page + 1, wechatApi: page + 2 };
}

/** The address this machine reaches what listens on `bind` at: 127.0.0.1 for all interfaces. */
export function addressOfBind(bind: string): string {
  return bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind;
}

/** The address this machine reaches what listens on LOCAL_BIND at: 127.0.0.1 for all interfaces. */
export function localAddress(config: Config): string {
  return addressOfBind(config.localBind);
}

/**
 * Where the services the platforms call (wechat-gateway, im-callback) listen: every interface, but
 * in sandbox mode LOCAL_BIND only, since anyone who can reach them there can sign pushes and
 * callbacks with the sandbox's published tokens.
 */
export function platformBind(config: Config): string {
  return config.sandboxed ? config.localBind : '0.0.0.0';
}

/** The host the services reach the sandbox at: SANDBOX_HOST, else where it listens (`localAddress`). */
export function sandboxHost(config: Config): string {
  return config.sandboxLinks.host ?? localAddress(config);
}

/** `http://host:port`, an IPv6 address in brackets. */
export function httpOrigin(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The sandbox's address on `port` as the services reach it. */
export function sandboxUrl(config: Config, port: number): string {
  return httpOrigin(sandboxHost(config), port);
}

/**
 * Whether a service started on its own (not by `npm start`) takes sandbox mode: only when asked
 * (SANDBOX=1), or with no credential at all and pointed at a sandbox (SANDBOX_HOST, as
 * docker-compose.yml does). A deployment whose credentials failed to arrive must stop with the
 * missing one named, not take pushes signed with the sandbox's published tokens.
 */
export function sandboxForService(config: Config): boolean {
  return config.sandboxed === true || config.sandbox === true || (config.sandboxLinks.host !== undefined && isSandbox(config));
}

/**
 * The configuration a service runs with: as configured, or in sandbox mode the sandbox's
 * credentials, the simulators at SANDBOX_HOST as the platforms, keys of their own (a sandbox
 * pointed at a deployment's Redis must not drain its queues into a simulator), and the sandbox page
 * as the one host agents' media may come from. The simulators speak plain HTTP: only these made-up
 * credentials travel to them. Applying it twice changes nothing.
 */
export function withSandbox(config: Config): Config {
  if (config.sandboxed || !isSandbox(config)) return config;
  const ports = sandboxPorts(config);
  return {
    ...config,
    sandboxed: true,
    queuePrefix: sandboxPrefix(config.queuePrefix),
    wechat: {
      ...config.wechat,
      token: SANDBOX.token,
      appId: SANDBOX.appId,
      appSecret: SANDBOX.appSecret,
      encodingAesKey: SANDBOX.encodingAesKey,
      apiBase: sandboxUrl(config, ports.wechatApi),
    },
    im: {
      ...config.im,
      sdkAppId: SANDBOX.imSdkAppId,
      secretKey: SANDBOX.imSecretKey,
      admin: SANDBOX.imAdmin,
      agents: [...SANDBOX.imAgents],
      callbackToken: SANDBOX.imCallbackToken,
      apiBase: sandboxUrl(config, ports.im),
    },
    // host:port, the port named even when it is 80: only an exact entry may be on a loopback address.
    mediaAllowedHosts: [`${new URL(sandboxUrl(config, ports.page)).hostname}:${ports.page}`],
    // Customers' voice and video reach the sandbox page's agent through the gateway, where it listens.
    media: {
      publicUrl: config.media.publicUrl ?? config.sandboxLinks.gatewayUrl,
      urlSecret: config.media.urlSecret ?? SANDBOX_MEDIA_URL_SECRET,
    },
  };
}
