import { SANDBOX } from '@wxim/config';

export { SANDBOX, sandboxPrefix } from '@wxim/config';

/** The environment a test or benchmark runs the services with to use the sandbox's credentials; the API bases are where its simulators listen. */
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
