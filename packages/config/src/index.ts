export { ConfigError, ConfigErrors } from './config-error.js';
export { DEFAULT_ACCOUNT, pushPath } from './accounts.js';
export {
  type Config,
  type ImConfig,
  type LogLevel,
  type Setting,
  type WechatConfig,
  DEFAULT_WELCOME_TEXT,
  LOG_LEVELS,
  accountsOf,
  loadConfig,
  requireSettings,
} from './config.js';
export type { Env } from './readers.js';
export type { SentinelConfig } from './redis-sentinel.js';
export { startOrExit } from './start-up.js';
export { REDACTED_KEYS, loggedAccount, loggerOptions } from './logging.js';
export {
  SANDBOX,
  SANDBOX_ACCOUNTS,
  SANDBOX_SECOND,
  type SandboxAccount,
  addressOfBind,
  httpOrigin,
  isSandbox,
  localAddress,
  platformBind,
  sandboxForService,
  sandboxHost,
  sandboxPorts,
  sandboxPrefix,
  sandboxUrl,
  withSandbox,
} from './sandbox-mode.js';
export type { SandboxLinks } from './sandbox-settings.js';
export { requirePortsApart } from './ports-apart.js';
export { type BusinessHours, isOpen, localTime } from './business-hours.js';
export { type DeskSettings, DEFAULT_OFF_HOURS_TEXT, DEFAULT_WAITING_TEXT } from './desk-settings.js';
export { type MediaSettings, SANDBOX_MEDIA_URL_SECRET } from './media-settings.js';
