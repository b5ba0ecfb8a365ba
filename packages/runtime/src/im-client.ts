import type { Config } from '@wxim/config';
import { ImClient, UserSigCache, paceFor } from '@wxim/im';
import { type Lease, RateGate, type StateKeys } from '@wxim/relay';
import type { RedisClient } from '@wxim/queue';

export function requireImSettings(config: Config): { sdkAppId: number; secretKey: string } {
  const { sdkAppId, secretKey } = config.im;
  if (sdkAppId === undefined || secretKey === undefined || config.im.agents.length === 0)
    throw new Error('an IM client needs IM_SDK_APP_ID, IM_SECRET_KEY and IM_AGENTS');
  return { sdkAppId, secretKey };
}

/** An IM client for a worker: one connection per job in flight, its calls counted in `metrics`. */
export function createImClient(
  config: Config,
  metrics: { imCalls: { inc(labels: { command: string; outcome: string }): void }; imCallSeconds: { observe(labels: { command: string }, v: number): void } },
  timeoutMs = 5000,
): ImClient {
  const { sdkAppId, secretKey } = requireImSettings(config);
  return new ImClient({
    sdkAppId,
    admin: config.im.admin,
    userSig: new UserSigCache(sdkAppId, secretKey, config.im.admin),
    apiBase: config.im.apiBase,
    timeoutMs,
    // One connection per job in flight: a call that has passed its lock check and its turn under
    // IM's pace leaves at once, never waits in the pool for a connection.
    connections: config.worker.concurrency,
    afterCall: (command, outcome, seconds) => {
      metrics.imCalls.inc({ command, outcome });
      metrics.imCallSeconds.observe({ command }, seconds);
    },
  });
}

/** IM's budget as the whole fleet shares it, per command: scopes named `im:<command>` (WeChat's API budget is another). */
export function imRateGate(state: RedisClient, keys: StateKeys, config: Config): (command: string, lease?: Lease) => Promise<number> {
  const gate = new RateGate(state, keys, (scope) => paceFor(scope.slice('im:'.length), config.worker.imRateLimit));
  return (command: string, lease?: Lease) => gate.acquire(`im:${command}`, lease);
}

/**
 * What IM's history command (admin_getroammsg) is used for, each within its own share of the
 * fleet's pace: looking for replies whose callbacks were missed (gaps, sweeps) takes
 * CALLBACK_RECOVERY_PERCENT, confirming replies before they are delivered takes the rest.
 */
export type HistoryUse = 'recovery' | 'confirm';

/**
 * The turn of one IM call made for `use`: first under the use's share of the command's pace
 * (scopes `im-recovery:<command>`, `im-confirm:<command>`), then under the fleet's pace of the
 * command, which every caller shares.
 */
export function imShareGate(state: RedisClient, keys: StateKeys, config: Config, use: HistoryUse): (command: string, lease?: Lease) => Promise<number> {
  const percent = use === 'recovery' ? config.callbackRecoveryPercent : 100 - config.callbackRecoveryPercent;
  const prefix = `im-${use}:`;
  const share = new RateGate(state, keys, (scope) => Math.max(1, Math.floor((paceFor(scope.slice(prefix.length), config.worker.imRateLimit) * percent) / 100)));
  const fleet = imRateGate(state, keys, config);
  return async (command, lease) => {
    await share.acquire(`${prefix}${command}`, lease);
    return fleet(command, lease);
  };
}
