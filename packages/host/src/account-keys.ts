import type { Config } from '@wxim/config';
import { accountPrefix, keyPrefix } from '@wxim/queue';
import { type AccountDesk, type StateKeys, stateKeys } from '@wxim/state';

/**
 * The key prefix of the account's IM pace: the app's own, `<QUEUE_PREFIX>:im-app:<SDKAppID>`, for
 * accounts that share an IM app (ACCOUNTS_FILE), named by the app so that it stays put when accounts
 * are added, removed or reordered (pods of two orders would each keep a pace of their own, and
 * together call IM up to twice its limit); the account's own where the app is its own.
 */
export function imPacePrefix(config: Config): string {
  const app = imAppLoadPrefix(config);
  return config.imAppAccounts.length > 1 && app !== undefined ? app : accountPrefix(config.queuePrefix, config.redisCluster, config.account);
}

/**
 * The account's state keys (under `prefix`, its own). Accounts that share an IM app share its
 * agents, and count their open conversations together under the app's own prefix,
 * `<QUEUE_PREFIX>:im-app:<SDKAppID>` (named by the app, not by an account, so that it stays put
 * when accounts are added, removed or reordered), each account's own count carried in; an account
 * whose app is (or is again) its own counts under its own prefix, carrying the app's back. A
 * process that does not know the app (IM_SDK_APP_ID unset for it) reads the account's own.
 */
export function accountKeys(config: Config, prefix: string): StateKeys {
  const app = imAppLoadPrefix(config);
  if (app === undefined) return stateKeys(prefix);
  return stateKeys(prefix, config.imAppAccounts.length > 1 ? { at: app, from: prefix } : { at: prefix, from: app });
}

/** Where accounts sharing the IM app count its agents' loads: undefined when this process does not know the app. */
function imAppLoadPrefix(config: Config): string | undefined {
  const { sdkAppId } = config.im;
  return sdkAppId === undefined ? undefined : `${keyPrefix(config.queuePrefix, config.redisCluster)}:im-app:${sdkAppId}`;
}

/**
 * Every account of the account's IM app (itself included: see Config.imAppAccounts) with its
 * keys, and every place their agents' loads may have been counted, shared or not (see AgentLoad.recount).
 */
export function appLoadPlaces(config: Config): { accounts: AccountDesk[]; places: string[] } {
  const accounts = appDesks(config);
  const app = imAppLoadPrefix(config);
  const places = [...accounts.map((a) => a.keys.agentLoad), ...(app === undefined ? [] : [stateKeys(app).agentLoad])];
  return { accounts, places };
}

/**
 * The desks of the other accounts that share the account's IM app and its agents (see
 * Config.imDeskAccounts): their waiting customers queue with the account's, and a place one of
 * the agents frees may go to a customer waiting in any of them.
 */
export function otherAppDesks(config: Config): AccountDesk[] {
  const own = accountPrefix(config.queuePrefix, config.redisCluster, config.account);
  return appDesks(config, config.imDeskAccounts).filter((desk) => desk.prefix !== own);
}

/** The desk of every account of the account's IM app, itself included (see Config.imAppAccounts). */
function appDesks(config: Config, accounts = config.imAppAccounts): AccountDesk[] {
  return accounts.map((account) => {
    const prefix = accountPrefix(config.queuePrefix, config.redisCluster, account);
    return { prefix, keys: stateKeys(prefix) };
  });
}
