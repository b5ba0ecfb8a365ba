import { ConfigError } from './config-error.js';
import type { Config } from './config.js';
import { SANDBOX } from './sandbox-mode.js';

/**
 * The example values deploy/k8s/settings.properties ships with. They pass every format check, so
 * without this a deployment that forgot one would start and fail later, job by job, against the
 * platforms. Sandbox mode brings credentials of its own (its agents are agent1 and agent2 too).
 */
export function refusePlaceholders(config: Config): void {
  if (config.sandboxed) return;
  const { appId } = config.wechat;
  if (appId !== undefined && /^wxchangeme/i.test(appId))
    throw new ConfigError('WECHAT_APP_ID', 'is still the example placeholder', 'the AppID of your Official Account, from its basic configuration');
  if (config.im.sdkAppId === 1_400_000_000)
    throw new ConfigError('IM_SDK_APP_ID', 'is still the example placeholder', 'the SDKAppID of your IM app, from the IM console');
  // The example Secret's: a board anyone who read the example could log in to, and retry or clean from.
  if (config.dashboard.password?.trim().toLowerCase() === 'change-me')
    throw new ConfigError('DASHBOARD_PASSWORD', 'is still the example placeholder', 'a password of your own (anyone who read the example could log in)');
  // The example Secret's too: IM's callbacks would all be refused 401 (replies late, by the sweep),
  // and anyone who read the example could sign a callback.
  if (config.im.callbackToken?.trim().toLowerCase() === 'change-me')
    throw new ConfigError('IM_CALLBACK_TOKEN', 'is still the example placeholder', 'the callback authentication token you set in the IM console');
  // The sandbox's made-up IM app exists only in its simulators, where agent1 and agent2 are real
  // (the benchmarks run the services against them with the sandbox's credentials spelt out).
  if (config.im.sdkAppId !== SANDBOX.imSdkAppId && [...config.im.agents].sort().join(',') === 'agent1,agent2')
    throw new ConfigError('IM_AGENTS', 'is still the example placeholder', "your agents' IM UserIDs, comma-separated");
}
