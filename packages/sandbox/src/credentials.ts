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
} as const;

/** The environment sandbox mode runs the services with. */
export function sandboxEnv(): Record<string, string> {
  return {
    WECHAT_TOKEN: SANDBOX.token,
    WECHAT_APP_ID: SANDBOX.appId,
    WECHAT_APP_SECRET: SANDBOX.appSecret,
    WECHAT_ENCODING_AES_KEY: SANDBOX.encodingAesKey,
  };
}
