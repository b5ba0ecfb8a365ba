/**
 * The credentials of sandbox mode: a made-up Official Account and IM app that exist only in the
 * simulators. Nothing here is a secret; they let `npm start` run with no configuration at all.
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

/** The environment sandbox mode runs the services with; the API bases are where the simulators listen. */
export function sandboxEnv(imApiBase?: string, wechatApiBase?: string): Record<string, string> {
  return {
    IM_SDK_APP_ID: String(SANDBOX.imSdkAppId),
    IM_SECRET_KEY: SANDBOX.imSecretKey,
    IM_ADMIN: SANDBOX.imAdmin,
    IM_AGENTS: SANDBOX.imAgents.join(','),
    IM_CALLBACK_TOKEN: SANDBOX.imCallbackToken,
    ...(imApiBase === undefined ? {} : { IM_API_BASE: imApiBase }),
    ...(wechatApiBase === undefined ? {} : { WECHAT_API_BASE: wechatApiBase }),
    WECHAT_TOKEN: SANDBOX.token,
    WECHAT_APP_ID: SANDBOX.appId,
    WECHAT_APP_SECRET: SANDBOX.appSecret,
    WECHAT_ENCODING_AES_KEY: SANDBOX.encodingAesKey,
  };
}

/** The key prefix of sandbox mode: its own, beside the configured one (QUEUE_PREFIX). */
export function sandboxPrefix(queuePrefix: string): string {
  return `${queuePrefix.slice(0, 24)}-sandbox`;
}
