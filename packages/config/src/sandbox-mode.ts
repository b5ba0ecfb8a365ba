import { DEFAULT_ACCOUNT } from './accounts.js';
import type { Config } from './config.js';
import { SANDBOX_MEDIA_URL_SECRET } from './media-settings.js';

/** One of sandbox mode's made-up Official Accounts, with the IM app its agents answer in. */
export interface SandboxAccount {
  /** Its account id: in paths (`/wechat/<id>`), keys and metric labels. */
  id: string;
  token: string;
  appId: string;
  appSecret: string;
  encodingAesKey: string;
  /** Its original id (`gh_…`): the ToUserName of its pushes. */
  accountId: string;
  imSdkAppId: number;
  imSecretKey: string;
  imAdmin: string;
  imAgents: readonly string[];
  imCallbackToken: string;
}

/**
 * The credentials of sandbox mode: a made-up Official Account and IM app that exist only in the
 * simulators. Nothing here is a secret; they let `npm start` and `docker compose up` run with no
 * configuration at all. This is the account `default`, with the keys and paths of a single account.
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

/**
 * Sandbox mode's second Official Account, `second`, to try several accounts on one relay: a
 * Token, AppID and key of its own, and an IM app of its own (its own SDKAppID, key, callback token
 * and agents), so that nothing of it can pass for the first's.
 */
export const SANDBOX_SECOND: SandboxAccount = {
  id: 'second',
  token: 'sandboxtokensecond',
  appId: 'wxsandbox000000002',
  appSecret: 'sandboxsecret0000000000000000002',
  encodingAesKey: 'SandboxEncodingAesKey0000000000000000000002',
  accountId: 'gh_sandbox000002',
  imSdkAppId: 1400000002,
  imSecretKey: 'sandboxsecretkey0000000000000002sandboxsecretkey0000000000000002',
  imAdmin: 'administrator',
  imAgents: ['agent3', 'agent4'],
  imCallbackToken: 'sandboxcallbacktoken2',
};

/** Sandbox mode's Official Accounts, `default` first. */
export const SANDBOX_ACCOUNTS: readonly SandboxAccount[] = [{ id: DEFAULT_ACCOUNT, ...SANDBOX }, SANDBOX_SECOND];

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
 * accounts (`default` and `second`, see SANDBOX_ACCOUNTS) as if ACCOUNTS_FILE listed them, the
 * simulators at SANDBOX_HOST as the platforms (each simulator plays both accounts' apps on its one
 * port, as each platform serves every app at one address), keys of their own (a sandbox pointed at
 * a deployment's Redis must not drain its queues into a simulator), and the sandbox page as the
 * one host agents' media may come from. The simulators speak plain HTTP: only these made-up
 * credentials travel to them. Applying it twice changes nothing.
 */
export function withSandbox(config: Config): Config {
  if (config.sandboxed || !isSandbox(config)) return config;
  const ports = sandboxPorts(config);
  const shared: Config = {
    ...config,
    sandboxed: true,
    queuePrefix: sandboxPrefix(config.queuePrefix),
    // host:port, the port named even when it is 80: only an exact entry may be on a loopback address.
    mediaAllowedHosts: [`${new URL(sandboxUrl(config, ports.page)).hostname}:${ports.page}`],
    // Customers' voice and video reach the sandbox page's agent through the gateway, where it listens.
    media: {
      publicUrl: config.media.publicUrl ?? config.sandboxLinks.gatewayUrl,
      urlSecret: config.media.urlSecret ?? SANDBOX_MEDIA_URL_SECRET,
    },
  };
  const accounts = SANDBOX_ACCOUNTS.map((a): Config => ({
    ...shared,
    account: a.id,
    accounts: [],
    // Each has an IM app of its own, and so the whole of IM's limit.
    imPaceAccount: a.id,
    imAppAccounts: [a.id],
    imDeskAccounts: [a.id],
    wechat: {
      ...config.wechat,
      token: a.token,
      appId: a.appId,
      appSecret: a.appSecret,
      encodingAesKey: a.encodingAesKey,
      apiBase: sandboxUrl(config, ports.wechatApi),
    },
    im: {
      ...config.im,
      sdkAppId: a.imSdkAppId,
      secretKey: a.imSecretKey,
      admin: a.imAdmin,
      agents: [...a.imAgents],
      callbackToken: a.imCallbackToken,
      apiBase: sandboxUrl(config, ports.im),
    },
  }));
  return { ...accounts[0]!, accounts };
}
