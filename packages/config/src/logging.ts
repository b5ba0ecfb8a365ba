import type { LogLevel } from './config.js';

/** Key names whose values never reach a log line, wherever they sit in a logged object. */
export const REDACTED_KEYS = [
  'appSecret',
  'secretKey',
  'secret',
  'token',
  'accessToken',
  'access_token',
  'usersig',
  'userSig',
  'password',
  'authorization',
  'encodingAesKey',
  'previousEncodingAesKey',
  'urlSecret',
];

/**
 * pino options for every service: the level from LOG_LEVEL, secrets redacted by key name, and
 * request URLs logged without their query (it carries signatures, openids and, towards WeChat's
 * API, access tokens).
 */
export function loggerOptions(level: LogLevel, name: string, account?: string) {
  return {
    level,
    name,
    // ACCOUNTS_FILE: every line of an account's service names the account.
    ...(account === undefined ? {} : { mixin: () => ({ account }) }),
    redact: { paths: [...REDACTED_KEYS, ...REDACTED_KEYS.map((k) => `*.${k}`), 'req.headers.authorization'], censor: '[redacted]' },
    serializers: {
      // A media link is a capability for three days: its token is not logged either.
      req: (req: { method?: string; url?: string }) => ({
        method: req.method,
        path: req.url?.split('?')[0]?.replace(/^\/media\/.*/, '/media/…'),
      }),
    },
  };
}

/** The account a service's log lines name: any but the single-account variables' `default` (whose lines stay as they were). */
export function loggedAccount(config: { account: string; inAccountsFile?: true }): string | undefined {
  return config.account === 'default' && config.inAccountsFile !== true ? undefined : config.account;
}
