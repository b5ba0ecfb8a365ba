import type { Config } from '@wxim/config';
import { paceFor } from '@wxim/im';
import { type HistoryUse, type Lease, RateGate, type RateScope, type StateKeys, stateKeys } from '@wxim/state';
import { type RedisClient, accountPrefix } from '@wxim/queue';
import { imPacePrefix } from './account-keys.js';

/**
 * WeChat documents no per-second limit for custom/send (a daily quota instead): the fleet's
 * WeChat calls go through a gate of their own all the same, which checks each job's lock right
 * before its send and keeps the fleet under this pace.
 */
export const WECHAT_PACE = 1000;

/**
 * The fleet's calls per second in a scope: IM's per command (IM_RATE_LIMIT scaled to the
 * command's own limit), a history use's share of it (CALLBACK_RECOVERY_PERCENT for recovery, the
 * rest for confirmations), WeChat's own pace.
 */
export function fleetPace(config: Config): (scope: RateScope) => number {
  const percent: Record<HistoryUse, number> = { recovery: config.callbackRecoveryPercent, confirm: 100 - config.callbackRecoveryPercent };
  return (scope) => {
    switch (scope.platform) {
      case 'im': {
        const pace = paceFor(scope.command, config.worker.imRateLimit);
        return scope.share === undefined ? pace : Math.max(1, Math.floor((pace * percent[scope.share]) / 100));
      }
      case 'wechat':
        return WECHAT_PACE;
    }
  };
}

/**
 * The fleet's gate over every scope, IM's and WeChat's, each at its {@link fleetPace}. IM's limit
 * is its app's: accounts that share an IM app keep its pace under the app's own prefix (imPacePrefix).
 */
export function fleetRateGate(state: RedisClient, keys: StateKeys, config: Config): RateGate {
  if (imPacePrefix(config) === accountPrefix(config.queuePrefix, config.redisCluster, config.account)) return new RateGate(state, keys, fleetPace(config));
  const imKeys = stateKeys(imPacePrefix(config));
  return new RateGate(state, (scope) => (scope.platform === 'im' ? imKeys : keys), fleetPace(config));
}

/**
 * The turn of one IM call made for `use`: first under the use's share of the command's pace,
 * then under the fleet's pace of the command, which every caller shares.
 */
export function imShareGate(state: RedisClient, keys: StateKeys, config: Config, use: HistoryUse): (command: string, lease?: Lease) => Promise<number> {
  const gate = fleetRateGate(state, keys, config);
  return async (command, lease) => {
    await gate.acquire({ platform: 'im', command, share: use }, lease);
    return gate.acquire({ platform: 'im', command }, lease);
  };
}
