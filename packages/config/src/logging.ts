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
  'urlSecret',
];

/**
 * pino options for every service: the level from LOG_LEVEL, secrets redacted by key name, and
 * request URLs logged without their query (it carries signatures, openids and, towards WeChat's
 * API, access tokens).
 */
export function loggerOptions(level: LogLevel, name: string) {
  return {
    level,
    name,
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
