import { DEFAULT_ACCOUNT, SANDBOX_ACCOUNTS, type SandboxAccount, pushPath } from '@wxim/config';

/** One of sandbox mode's accounts as the terminal scripts play it, and how to reach its apps. */
export interface ScriptAccount {
  account: SandboxAccount;
  /** Where its pushes go on the gateway: `/wechat` for `default`, `/wechat/<id>` otherwise. */
  pushPath: string;
  /** The query a simulator's `/sim/*` route takes to show this account's IM app ('' for default's). */
  imQuery: string;
  /** The same for its Official Account's API. */
  wechatQuery: string;
}

/**
 * The script's arguments without `--account <id>`, and the account it names (`default` without
 * it). An id sandbox mode does not run ends the script with the ids it does.
 */
export function scriptAccount(argv: readonly string[]): { args: string[]; account: ScriptAccount } {
  const args = [...argv];
  const at = args.indexOf('--account');
  const id = at === -1 ? DEFAULT_ACCOUNT : args[at + 1];
  if (at !== -1) args.splice(at, 2);
  const account = SANDBOX_ACCOUNTS.find((a) => a.id === id);
  if (account === undefined) {
    process.stderr.write(`--account: sandbox mode runs the accounts ${SANDBOX_ACCOUNTS.map((a) => a.id).join(' and ')}, not ${JSON.stringify(id ?? '')}\n`);
    process.exit(2);
  }
  const isDefault = account.id === DEFAULT_ACCOUNT;
  return {
    args,
    account: {
      account,
      pushPath: pushPath(account.id),
      imQuery: isDefault ? '' : `?sdkappid=${account.imSdkAppId}`,
      wechatQuery: isDefault ? '' : `?appid=${account.appId}`,
    },
  };
}
