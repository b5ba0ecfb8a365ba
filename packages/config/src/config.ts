import { ConfigError, ConfigErrors } from './config-error.js';
import { type AccountEntry, DEFAULT_ACCOUNT, environmentOf, fieldOf, hasOwnAccount, readAccountsFile } from './accounts.js';
import { type Env, flag, integer, list, matching, oneOf, origin, port, raw, required, url } from './readers.js';
import { type DeskSettings, deskSettings } from './desk-settings.js';
import { refusePlaceholders } from './placeholders.js';
import { type SentinelConfig, redisSentinel } from './redis-sentinel.js';
import { type SandboxLinks, localBind, sandboxLinks } from './sandbox-settings.js';
import { type MediaSettings, mediaSettings } from './media-settings.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_WELCOME_TEXT = 'Hello, and thank you for following us! Send a message here and one of our agents will answer.';

export interface WechatConfig {
  token?: string;
  appId?: string;
  appSecret?: string;
  encodingAesKey?: string;
  /** WECHAT_ENCODING_AES_KEY_PREVIOUS: the key before, still opening pushes while a change in the console is under way. */
  previousEncodingAesKey?: string;
  /** WECHAT_REQUIRE_ENCRYPTION: take only encrypted pushes (needs the EncodingAESKey). */
  requireEncryption: boolean;
  apiBase: string;
  /** WECHAT_TOKEN_API: where the fleet's access_token comes from (stable_token keeps one token until it expires). */
  tokenApi: 'stable_token' | 'token';
}

export interface ImConfig {
  sdkAppId?: number;
  secretKey?: string;
  admin: string;
  apiBase: string;
  agents: string[];
  callbackToken?: string;
}

export interface Config {
  /** The Official Account this configuration serves: `default` for the single-account variables, else its id in ACCOUNTS_FILE. */
  account: string;
  /**
   * ACCOUNTS_FILE: every account's own configuration (the `default` one first when the variables
   * configure it too), each with `accounts` empty; empty without the file (one account, this one).
   */
  accounts: readonly Config[];
  /** Set on an account of ACCOUNTS_FILE (errors name its fields, not variables). */
  inAccountsFile?: true;
  /** An account of ACCOUNTS_FILE: its fields whose `${NAME}` is not set in this process, variable → NAME. */
  unsetReferences?: Readonly<Record<string, string>>;
  /** The account whose keys hold the pace of this account's IM app: the first account with that app (accounts sharing an app share its limit). */
  imPaceAccount: string;
  /** Every account with this account's IM app, in the file's order, itself included (just itself where the app is its own): they share its agents, whose open conversations they count together. */
  imAppAccounts: readonly string[];
  /**
   * The accounts of imAppAccounts whose IM_AGENTS are this account's (the same agents, in any
   * order), itself included: their waiting customers queue together for those agents, in the order
   * they began to wait. An account of the app with other agents keeps a queue of its own (its
   * customers could not take this account's agents, nor this account's theirs), while an agent
   * both list still counts their open conversations together.
   */
  imDeskAccounts: readonly string[];
  redisUrl: string;
  redisCluster: boolean;
  /** REDIS_SENTINELS, REDIS_SENTINEL_NAME (and REDIS_SENTINEL_PASSWORD): the primary is whichever the sentinels name; REDIS_URL gives its user, password, database and TLS. */
  redisSentinel?: SentinelConfig;
  /** REDIS_WAIT_REPLICAS: a push is acknowledged only once this many replicas have it (0: the primary's word). */
  redisWaitReplicas: number;
  queuePrefix: string;
  wechat: WechatConfig;
  im: ImConfig;
  welcomeText: string;
  /** The service desk: presence-based assignment, waiting, business hours, agent commands. */
  desk: DeskSettings;
  onUnsubscribe: 'delete' | 'keep';
  worker: {
    /** Jobs each worker process runs at once. */
    concurrency: number;
    /** A job whose worker stops renewing its lock this long is taken over by another worker. */
    stallMs: number;
    /** IM REST calls per second across the whole fleet (IM allows 200 sendmsg/s per app). */
    imRateLimit: number;
  };
  /**
   * CALLBACK_RECOVERY_PERCENT: the share of IM's limit of the history command that looking for
   * missed callbacks (gaps and sweeps) may use; confirming replies in the history has the rest.
   */
  callbackRecoveryPercent: number;
  /** CALLBACK_SWEEP_MS: how often the fleet looks through IM's history of active conversations for replies whose callbacks never came (0: never). */
  callbackSweepMs: number;
  /** CALLBACK_VERIFY: `history` delivers a reply only once IM's own history shows its agent sent it; `off` trusts the signed callback alone. */
  callbackVerify: 'history' | 'off';
  /**
   * REPLY_UNDO_MS: each reply waits this long from when the relay accepted it, so that its agent's
   * recall in IM stops it (0: replies go at once). At most IM's default recall limit, two minutes:
   * a longer hold could not be undone from the agent's client anyway.
   */
  replyUndoMs: number;
  /** DELIVERY_MARKS: `on` marks each agent reply in IM (its CloudCustomData) queued, delivered or not delivered; `off` leaves replies as their agents sent them. */
  deliveryMarks: 'on' | 'off';
  mediaAllowedHosts: string[];
  /** MEDIA_PUBLIC_URL, MEDIA_URL_SECRET: customers' voice and video as signed links to the gateway. */
  media: MediaSettings;
  ports: { gateway: number; callback: number; dashboard: number; imWorker: number; pusher: number; sandbox: number };
  /**
   * LOCAL_BIND: the interface that what has no password listens on (the sandbox page and its
   * simulators, a dashboard without DASHBOARD_PASSWORD). This machine only by default; a container
   * sets 0.0.0.0 and publishes those ports on its host's loopback only.
   */
  localBind: string;
  /** Where sandbox mode's parts find each other (SANDBOX_HOST, SANDBOX_GATEWAY_URL, SANDBOX_CALLBACK_URL). */
  sandboxLinks: SandboxLinks;
  dashboard: { user?: string; password?: string; readOnly: boolean };
  /** `undefined` means auto: sandbox when no WeChat or IM credential is configured. */
  sandbox: boolean | undefined;
  /** Set once sandbox mode's credentials and simulator addresses are filled in (see `withSandbox`). */
  sandboxed?: true;
  logLevel: LogLevel;
}

const IM_USER_ID = /^[A-Za-z0-9_@.-]{1,32}$/;

/** IM lets a sender recall a message for two minutes by default: a reply held longer could not be undone anyway. */
export const MAX_REPLY_UNDO_MS = 120_000;

/** CALLBACK_SWEEP_MS: 0 (off), or at least a second, at most a day. */
function sweepPeriod(env: Env): number {
  const ms = integer(env, 'CALLBACK_SWEEP_MS', 0, 86_400_000, 300_000);
  if (ms > 0 && ms < 1000) throw new ConfigError('CALLBACK_SWEEP_MS', 'is malformed', '0 (no sweeps) or a period in ms from 1000 to 86400000');
  return ms;
}

/**
 * Reads and validates the whole environment once. Every value that is set is checked, so a typo
 * stops start-up even in a service that would not use it; what a service needs is checked by
 * {@link requireSettings}.
 */
export function loadConfig(env: Env = process.env): Config {
  const file = raw(env, 'ACCOUNTS_FILE');
  const own = hasOwnAccount(env);
  // With the file and no account of the variables' own, WECHAT_REQUIRE_ENCRYPTION is the accounts'
  // default (each checks it against its own key), not a setting of an account without a key.
  const config = loadAccount(file !== undefined && !own ? { ...env, WECHAT_REQUIRE_ENCRYPTION: undefined } : env, DEFAULT_ACCOUNT);
  if (file === undefined) return config;
  if (config.sandbox === true) throw new ConfigError('SANDBOX', 'is set with ACCOUNTS_FILE', 'unset one of them: the sandbox runs its own made-up accounts');
  const entries = readAccountsFile(file, env);
  if (own && entries.some((e) => e.id === DEFAULT_ACCOUNT))
    throw new ConfigError(
      'ACCOUNTS_FILE',
      `has an account "${DEFAULT_ACCOUNT}" while WECHAT_* and IM_* variables configure it too`,
      'give the account another id, or move the variables into the file',
    );
  const problems: ConfigError[] = [];
  const accounts: Config[] = own ? [config] : [];
  for (const entry of entries) {
    try {
      // An AES key given by a ${NAME} this service lacks (only the gateway reads it): its check that
      // encryption-only has a key is left to the gateway's required settings.
      const own = environmentOf(entry, env);
      const keyElsewhere = entry.unset['WECHAT_ENCODING_AES_KEY'] !== undefined;
      const loaded = loadAccount(keyElsewhere ? { ...own, WECHAT_REQUIRE_ENCRYPTION: undefined } : own, entry.id);
      const account = keyElsewhere ? { ...loaded, wechat: { ...loaded.wechat, requireEncryption: flag(own, 'WECHAT_REQUIRE_ENCRYPTION', false) } } : loaded;
      accounts.push({ ...account, inAccountsFile: true, unsetReferences: entry.unset });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(inAccount(entry, err));
    }
  }
  problems.push(...sharedAppProblems(accounts));
  if (problems.length > 0) throw problems.length === 1 ? problems[0]! : new ConfigErrors(problems);
  const paced = accounts.map((a) => {
    // An app this process does not know (a ${NAME} it lacks) is no app shared.
    const sharing = a.im.sdkAppId === undefined ? [a] : accounts.filter((b) => b.im.sdkAppId === a.im.sdkAppId);
    const agents = new Set(a.im.agents);
    const sameAgents = (b: Config) => {
      const theirs = new Set(b.im.agents);
      return theirs.size === agents.size && [...theirs].every((agent) => agents.has(agent));
    };
    const ids = (list: readonly Config[]) => list.map((b) => b.account);
    return { ...a, imPaceAccount: sharing[0]!.account, imAppAccounts: ids(sharing), imDeskAccounts: ids(sharing.filter(sameAgents)) };
  });
  return { ...config, sandbox: false, accounts: paced };
}

/** An account's error as the file's field it is about, e.g. `ACCOUNTS_FILE account "b" wechat.token is malformed`. */
function inAccount(entry: AccountEntry, err: ConfigError): ConfigError {
  return new ConfigError(`ACCOUNTS_FILE account "${entry.id}" ${fieldOf(err.variable) ?? err.variable}`, err.problem, err.expected);
}

/** Accounts that name the same Official Account, or share an IM app with different keys or callback tokens (an IM app has one of each). */
function sharedAppProblems(accounts: readonly Config[]): ConfigError[] {
  const problems: ConfigError[] = [];
  for (const [i, a] of accounts.entries()) {
    for (const b of accounts.slice(0, i)) {
      const where = `ACCOUNTS_FILE account "${a.account}"`;
      if (a.wechat.appId !== undefined && a.wechat.appId === b.wechat.appId)
        problems.push(new ConfigError(`${where} wechat.appId`, `is account "${b.account}"'s too`, 'one entry per Official Account'));
      // A push's signature is the Token's alone: with one Token, a push for one account would pass on
      // the other's path. Encryption-only accounts are told apart by their own keys.
      const encrypted = (c: Config) => c.wechat.requireEncryption && c.wechat.encodingAesKey !== undefined;
      if (
        a.wechat.token !== undefined &&
        a.wechat.token === b.wechat.token &&
        !(encrypted(a) && encrypted(b) && a.wechat.encodingAesKey !== b.wechat.encodingAesKey)
      )
        problems.push(
          new ConfigError(
            `${where} wechat.token`,
            `is account "${b.account}"'s too`,
            "a Token of each account's own (a push signed for one would pass on the other's path), or both encryptionOnly with keys of their own",
          ),
        );
      // IM's Sign is the token's and the time's alone, and names no app: with one token, a callback
      // captured from one app would pass, its SdkAppid changed, as the other's.
      if (
        a.im.sdkAppId !== undefined &&
        b.im.sdkAppId !== undefined &&
        a.im.sdkAppId !== b.im.sdkAppId &&
        a.im.callbackToken !== undefined &&
        a.im.callbackToken === b.im.callbackToken
      )
        problems.push(
          new ConfigError(
            `${where} im.callbackToken`,
            `is account "${b.account}"'s too, whose IM app is another`,
            "a callback token of each IM app's own (a callback signed for one app would pass for the other)",
          ),
        );
      if (a.im.sdkAppId === undefined || a.im.sdkAppId !== b.im.sdkAppId) continue;
      if (a.im.secretKey !== b.im.secretKey)
        problems.push(
          new ConfigError(`${where} im.secretKey`, `differs from account "${b.account}"'s, which has the same IM app`, "the IM app's one secret key"),
        );
      if (a.im.callbackToken !== b.im.callbackToken)
        problems.push(
          new ConfigError(`${where} im.callbackToken`, `differs from account "${b.account}"'s, which has the same IM app`, "the IM app's one callback token"),
        );
    }
  }
  return problems;
}

/** The accounts this configuration serves: those of ACCOUNTS_FILE, else itself. */
export function accountsOf(config: Config): readonly Config[] {
  return config.accounts.length > 0 ? config.accounts : [config];
}

/** An EncodingAESKey: 43 base64 characters without the trailing "=" (WeChat's are letters and digits). */
const AES_KEY = /^[A-Za-z0-9]{43}$/;

/** One account's configuration from `env` (the process's, or an account's of ACCOUNTS_FILE). */
function loadAccount(env: Env, account: string): Config {
  const sdkAppId = matching(env, 'IM_SDK_APP_ID', /^[1-9]\d{0,11}$/, 'the SDKAppID number of the IM app, e.g. 1400000000');
  const encodingAesKey = matching(env, 'WECHAT_ENCODING_AES_KEY', AES_KEY, '43 letters and digits, the EncodingAESKey of the Official Account');
  // While the key changes in the console (see MessageCipher).
  const previousEncodingAesKey = matching(env, 'WECHAT_ENCODING_AES_KEY_PREVIOUS', AES_KEY, '43 letters and digits, the key before');
  if (previousEncodingAesKey !== undefined && encodingAesKey === undefined)
    throw new ConfigError(
      'WECHAT_ENCODING_AES_KEY_PREVIOUS',
      'is set without WECHAT_ENCODING_AES_KEY',
      'the current key too: the previous one only stands beside it',
    );
  const sandboxSetting = raw(env, 'SANDBOX')?.toLowerCase();
  const sandbox = sandboxSetting === undefined || sandboxSetting === 'auto' ? undefined : flag(env, 'SANDBOX', false);
  const welcomeText = env['WELCOME_TEXT'] ?? DEFAULT_WELCOME_TEXT;
  // Without the EncodingAESKey only the gateway, which reads pushes, refuses to start (requireOf):
  // the other services share the setting in one ConfigMap and never see the key.
  const requireEncryption = flag(env, 'WECHAT_REQUIRE_ENCRYPTION', false);
  // A passive text reply is capped at 2048 bytes by WeChat.
  if (Buffer.byteLength(welcomeText) > 2048) throw new ConfigError('WELCOME_TEXT', 'is too long', 'at most 2048 bytes (empty disables the welcome reply)');
  return {
    account,
    accounts: [],
    imPaceAccount: account,
    imAppAccounts: [account],
    imDeskAccounts: [account],
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:'], 'redis://127.0.0.1:6379'),
    redisCluster: flag(env, 'REDIS_CLUSTER', false),
    redisSentinel: redisSentinel(env, flag(env, 'REDIS_CLUSTER', false)),
    redisWaitReplicas: integer(env, 'REDIS_WAIT_REPLICAS', 0, 16, 0),
    queuePrefix: matching(env, 'QUEUE_PREFIX', /^[A-Za-z0-9_.-]{1,32}$/, 'up to 32 letters, digits, "_", "-" or "."') ?? 'wxim',
    wechat: {
      token: matching(env, 'WECHAT_TOKEN', /^[A-Za-z0-9]{3,32}$/, '3 to 32 letters and digits, the Token of the Official Account basic configuration'),
      appId: matching(env, 'WECHAT_APP_ID', /^wx[A-Za-z0-9]{16}$/, 'the AppID of the Official Account, "wx" and 16 letters or digits'),
      appSecret: matching(env, 'WECHAT_APP_SECRET', /^[A-Za-z0-9]{32}$/, 'the AppSecret of the Official Account, 32 letters and digits'),
      encodingAesKey,
      ...(previousEncodingAesKey === undefined ? {} : { previousEncodingAesKey }),
      requireEncryption,
      apiBase: origin(env, 'WECHAT_API_BASE', 'https://api.weixin.qq.com'),
      tokenApi: oneOf(env, 'WECHAT_TOKEN_API', ['stable_token', 'token'] as const, 'stable_token'),
    },
    im: {
      sdkAppId: sdkAppId === undefined ? undefined : Number(sdkAppId),
      secretKey: matching(env, 'IM_SECRET_KEY', /^[A-Za-z0-9]{16,128}$/, 'the secret key of the IM app (letters and digits, from the IM console)'),
      admin: matching(env, 'IM_ADMIN', IM_USER_ID, 'an IM app administrator UserID (letters, digits, _ - @ .)') ?? 'administrator',
      apiBase: origin(env, 'IM_API_BASE', 'https://console.tim.qq.com'),
      agents: list(env, 'IM_AGENTS', IM_USER_ID, 'comma-separated IM UserIDs of the agents, e.g. agent1,agent2'),
      callbackToken: matching(env, 'IM_CALLBACK_TOKEN', /^[\x21-\x7e]{1,128}$/, 'the callback authentication token from the IM console'),
    },
    welcomeText,
    desk: deskSettings(env),
    onUnsubscribe: oneOf(env, 'ON_UNSUBSCRIBE', ['delete', 'keep'] as const, 'delete'),
    worker: {
      concurrency: integer(env, 'WORKER_CONCURRENCY', 1, 1000, 32),
      stallMs: integer(env, 'WORKER_STALL_MS', 1000, 600_000, 30_000),
      imRateLimit: integer(env, 'IM_RATE_LIMIT', 1, 100_000, 180),
    },
    // Confirmations take the rest of the history command's budget: at least a tenth is left to them.
    callbackRecoveryPercent: integer(env, 'CALLBACK_RECOVERY_PERCENT', 1, 90, 25),
    callbackSweepMs: sweepPeriod(env),
    callbackVerify: oneOf(env, 'CALLBACK_VERIFY', ['history', 'off'] as const, 'history'),
    replyUndoMs: integer(env, 'REPLY_UNDO_MS', 0, MAX_REPLY_UNDO_MS, 0),
    deliveryMarks: oneOf(env, 'DELIVERY_MARKS', ['on', 'off'] as const, 'on'),
    mediaAllowedHosts: list(env, 'MEDIA_ALLOWED_HOSTS', /^[A-Za-z0-9.*-]+(:\d+)?$/, 'comma-separated host names, e.g. mmbiz.qpic.cn,*.qq.com'),
    media: mediaSettings(env),
    ports: {
      gateway: port(env, 'GATEWAY_PORT', 3000),
      callback: port(env, 'CALLBACK_PORT', 3001),
      dashboard: port(env, 'DASHBOARD_PORT', 3002),
      imWorker: port(env, 'IM_WORKER_PORT', 9101),
      pusher: port(env, 'PUSHER_PORT', 9102),
      // The sandbox page; the two simulators take the next two ports.
      sandbox: integer(env, 'SANDBOX_PORT', 1, 65533, 3003),
    },
    localBind: localBind(env),
    sandboxLinks: sandboxLinks(env, port(env, 'GATEWAY_PORT', 3000), port(env, 'CALLBACK_PORT', 3001), localBind(env)),
    dashboard: {
      user: raw(env, 'DASHBOARD_USER'),
      password: raw(env, 'DASHBOARD_PASSWORD'),
      readOnly: flag(env, 'DASHBOARD_READ_ONLY', false),
    },
    sandbox,
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
  };
}

/** The settings a service cannot run without, each with what a valid value looks like. */
const SETTINGS = {
  WECHAT_TOKEN: [(c: Config) => c.wechat.token, 'the Token set in the Official Account basic configuration (3 to 32 letters and digits)'],
  WECHAT_APP_ID: [(c: Config) => c.wechat.appId, 'the AppID of the Official Account, "wx" and 16 letters or digits'],
  WECHAT_APP_SECRET: [(c: Config) => c.wechat.appSecret, 'the AppSecret of the Official Account, 32 letters and digits'],
  IM_SDK_APP_ID: [(c: Config) => c.im.sdkAppId, 'the SDKAppID number of the IM app, e.g. 1400000000'],
  IM_SECRET_KEY: [(c: Config) => c.im.secretKey, 'the secret key of the IM app, from the IM console'],
  IM_AGENTS: [(c: Config) => (c.im.agents.length > 0 ? c.im.agents : undefined), 'comma-separated IM UserIDs of the agents, e.g. agent1,agent2'],
  IM_CALLBACK_TOKEN: [
    (c: Config) => c.im.callbackToken,
    "the callback authentication token set in the IM console (without it anyone who finds the callback URL could send replies in an agent's name)",
  ],
  // Needed only where links are signed or checked (the gateway, the im-worker), once MEDIA_PUBLIC_URL turns them on.
  MEDIA_URL_SECRET: [
    (c: Config) => (c.media.publicUrl === undefined ? 'unused' : c.media.urlSecret),
    'the key media links are signed with (at least 32 characters) whenever MEDIA_PUBLIC_URL is set',
  ],
} as const;

export type Setting = keyof typeof SETTINGS;

export function requireSettings(config: Config, names: readonly Setting[]): void {
  if (config.accounts.length === 0) return requireOf(config, names);
  const problems: ConfigError[] = [];
  for (const account of config.accounts) {
    try {
      requireOf(account, names);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      if (!account.inAccountsFile) {
        problems.push(err);
        continue;
      }
      const ref = account.unsetReferences?.[err.variable];
      const problem = ref === undefined ? err.problem : `is missing (it names ${ref}, which is not set in this service)`;
      problems.push(new ConfigError(`ACCOUNTS_FILE account "${account.account}" ${fieldOf(err.variable) ?? err.variable}`, problem, err.expected));
    }
  }
  if (problems.length > 0) throw problems.length === 1 ? problems[0]! : new ConfigErrors(problems);
}

function requireOf(config: Config, names: readonly Setting[]): void {
  refusePlaceholders(config);
  for (const name of names) {
    const [read, expected] = SETTINGS[name];
    required(name, read(config), expected);
  }
  // What the gateway needs to read a push that the accounts file names by a ${NAME} this process lacks: never taken as "none".
  const named = {
    WECHAT_ENCODING_AES_KEY: 'the EncodingAESKey the accounts file names',
    WECHAT_ENCODING_AES_KEY_PREVIOUS: 'the previous EncodingAESKey the accounts file names',
    WECHAT_REQUIRE_ENCRYPTION: 'whether pushes must be encrypted, as the accounts file names it',
  };
  for (const [name, expected] of Object.entries(named))
    if (names.includes('WECHAT_TOKEN') && config.unsetReferences?.[name] !== undefined) required(name, undefined, expected);
  if (config.wechat.requireEncryption && names.includes('WECHAT_TOKEN')) {
    required('WECHAT_ENCODING_AES_KEY', config.wechat.encodingAesKey, 'the EncodingAESKey: encryption-only (WECHAT_REQUIRE_ENCRYPTION) needs it');
  }
  // Safe mode decrypts with the AppID as the trailer check, so a key without an AppID is useless.
  if (config.wechat.encodingAesKey !== undefined && names.includes('WECHAT_TOKEN')) {
    required('WECHAT_APP_ID', config.wechat.appId, 'the AppID of the Official Account; it is needed with WECHAT_ENCODING_AES_KEY');
  }
}
