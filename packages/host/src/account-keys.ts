import type { Config } from '@wxim/config';
import { accountPrefix } from '@wxim/queue';
import { type AccountDesk, type StateKeys, stateKeys } from '@wxim/state';

/**
 * The key prefix of the account's IM app: that of the first account that shares it (ACCOUNTS_FILE),
 * the account's own where the app is its own. What the app's accounts share lives under it: IM's
 * pace and the agents' loads.
 */
export function imAppPrefix(config: Config): string {
  return accountPrefix(config.queuePrefix, config.redisCluster, config.imPaceAccount);
}

/** The account's state keys (under `prefix`, its own), with what it shares with its IM app's other accounts under theirs. */
export function accountKeys(config: Config, prefix: string): StateKeys {
  return stateKeys(prefix, imAppPrefix(config));
}

/** The desks of the other accounts that share the account's IM app: a place one of its agents frees may go to a customer waiting in any of them. */
export function otherAppDesks(config: Config): AccountDesk[] {
  return config.imAppAccounts
    .filter((account) => account !== config.account)
    .map((account) => {
      const prefix = accountPrefix(config.queuePrefix, config.redisCluster, account);
      return { prefix, keys: stateKeys(prefix, imAppPrefix(config)) };
    });
}
