import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './config-error.js';
import type { Env } from './readers.js';

/** The account the single-account variables (WECHAT_*, IM_*) configure, and whose keys are the relay's own. */
export const DEFAULT_ACCOUNT = 'default';

/** Where WeChat pushes an account's messages on the gateway: `/wechat` for `default`, `/wechat/<account>` for any other. */
export function pushPath(account: string): string {
  return account === DEFAULT_ACCOUNT ? '/wechat' : `/wechat/${account}`;
}

/** An account's id: in paths (`/wechat/<id>`), keys and metric labels. */
const ACCOUNT_ID = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/**
 * What an account of ACCOUNTS_FILE may set, as the variable each field stands for: an account is
 * the environment with these replaced, so every value is checked exactly as the variable is.
 */
const FIELDS: Record<string, Record<string, string> | string> = {
  wechat: {
    appId: 'WECHAT_APP_ID',
    token: 'WECHAT_TOKEN',
    aesKey: 'WECHAT_ENCODING_AES_KEY',
    previousAesKey: 'WECHAT_ENCODING_AES_KEY_PREVIOUS',
    appSecret: 'WECHAT_APP_SECRET',
    encryptionOnly: 'WECHAT_REQUIRE_ENCRYPTION',
    apiBase: 'WECHAT_API_BASE',
  },
  im: {
    sdkAppId: 'IM_SDK_APP_ID',
    secretKey: 'IM_SECRET_KEY',
    admin: 'IM_ADMIN',
    agents: 'IM_AGENTS',
    callbackToken: 'IM_CALLBACK_TOKEN',
    apiBase: 'IM_API_BASE',
  },
  welcomeText: 'WELCOME_TEXT',
  waitingText: 'WAITING_TEXT',
  offHoursText: 'OFF_HOURS_TEXT',
  businessHours: 'BUSINESS_HOURS',
  businessTz: 'BUSINESS_TZ',
  holidays: 'HOLIDAYS',
};

/**
 * The variables that are an account's own: an account of the file never inherits them. The API
 * bases (e.g. IM's regional domains), WECHAT_REQUIRE_ENCRYPTION and the texts are inherited unless
 * the account sets its own.
 */
export const ACCOUNT_CREDENTIALS: readonly string[] = [
  ...Object.values(FIELDS.wechat as Record<string, string>),
  ...Object.values(FIELDS.im as Record<string, string>),
].filter((name) => !name.endsWith('_API_BASE') && name !== 'WECHAT_REQUIRE_ENCRYPTION');

/** The file's field a variable stands for in an account, e.g. `wechat.token` for WECHAT_TOKEN. */
export function fieldOf(variable: string): string | undefined {
  for (const [name, field] of Object.entries(FIELDS)) {
    if (typeof field === 'string') {
      if (field === variable) return name;
    } else {
      for (const [sub, v] of Object.entries(field)) if (v === variable) return `${name}.${sub}`;
    }
  }
  return undefined;
}

/** One account of the file: its id and its variables (the fields, as the variables they stand for). */
export interface AccountEntry {
  id: string;
  env: Record<string, string>;
  /** Fields whose `${NAME}` is not set in this process, as variable → NAME: unset here (another service may have them). */
  unset: Record<string, string>;
}

const SHAPE =
  'a JSON or YAML file with a list "accounts", each with an "id" (lowercase letters, digits, _ or -, up to 32), "wechat" {appId, token, aesKey, previousAesKey, appSecret, encryptionOnly} and "im" {sdkAppId, secretKey, admin, agents, callbackToken}';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The NAME of a `${NAME}` value, else undefined. */
function referenceOf(value: unknown): string | undefined {
  return typeof value === 'string' ? /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(value.trim())?.[1] : undefined;
}

/**
 * A field's value as its variable's text. `${NAME}` takes the value of the environment variable
 * NAME, so that the file holds no secret and each service is given only the secrets it reads (as
 * without the file): a NAME not set in this process leaves the field unset here (undefined).
 */
function valueText(value: unknown, where: string, env: Env): string | undefined {
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(',');
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value !== 'string') throw new ConfigError(`ACCOUNTS_FILE ${where}`, 'is malformed', 'a string, a number, true or false, or a list of strings');
  const ref = referenceOf(value);
  if (ref === undefined) {
    // A reference written wrong must not become the value itself (e.g. a callback token anyone reading the file knows).
    if (value.includes('${'))
      throw new ConfigError(
        `ACCOUNTS_FILE ${where}`,
        'is malformed',
        'a value, or a whole ${NAME} reference (NAME of letters, digits and _, not starting with a digit)',
      );
    return value;
  }
  const fromEnv = env[ref];
  return fromEnv === undefined || fromEnv.trim() === '' ? undefined : fromEnv;
}

/**
 * A key the file gives that is no setting: named when it reads as a name, else not (in flow style, a
 * missing space after ':' makes `token:<the token>` one key, which must not reach a log).
 */
function notASetting(where: string, key: string, expected: string): ConfigError {
  if (/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(key)) return new ConfigError(`ACCOUNTS_FILE ${where}.${key}`, 'is not a setting of an account', expected);
  return new ConfigError(`ACCOUNTS_FILE ${where}`, 'has a key that is not a setting (a missing space after ":"?)', expected);
}

/** One account's fields as the variables they stand for; unknown fields are refused (a typo would otherwise be a missing setting). */
function accountEnv(account: Record<string, unknown>, where: string, env: Env): Pick<AccountEntry, 'env' | 'unset'> {
  const out: Record<string, string> = {};
  const unset: Record<string, string> = {};
  const put = (variable: string, value: unknown, field: string) => {
    const text = valueText(value, field, env);
    if (text !== undefined) out[variable] = text;
    else unset[variable] = referenceOf(value)!;
  };
  for (const [name, value] of Object.entries(account)) {
    if (name === 'id') continue;
    const field = FIELDS[name];
    if (field === undefined) throw notASetting(where, name, SHAPE);
    if (typeof field === 'string') {
      put(field, value, `${where}.${name}`);
      continue;
    }
    if (!isObject(value)) throw new ConfigError(`ACCOUNTS_FILE ${where}.${name}`, 'is malformed', `an object with ${Object.keys(field).join(', ')}`);
    for (const [sub, v] of Object.entries(value)) {
      const variable = field[sub];
      if (variable === undefined) throw notASetting(`${where}.${name}`, sub, `one of ${Object.keys(field).join(', ')}`);
      put(variable, v, `${where}.${name}.${sub}`);
    }
  }
  return { env: out, unset };
}

/** The accounts of ACCOUNTS_FILE, read and checked for shape (their values are checked as the variables they stand for). */
export function readAccountsFile(file: string, env: Env): AccountEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('ACCOUNTS_FILE', `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, SHAPE);
  }
  let parsed: unknown;
  try {
    // YAML is a superset of JSON. Every value is read as text (the failsafe schema), as a variable
    // is: a Token such as 012345 must not turn into the number 12345.
    parsed = parseYaml(text, { schema: 'failsafe' });
  } catch (err) {
    // Where it stopped (the parser's line and column; never the text, which may hold a secret).
    const at = (err as { linePos?: { line: number; col: number }[] }).linePos?.[0];
    const where = at === undefined ? '' : ` (it cannot be read past line ${at.line}, column ${at.col}; a \${NAME} inside { } needs quotes)`;
    throw new ConfigError('ACCOUNTS_FILE', `is neither JSON nor YAML${where}`, SHAPE);
  }
  const list = isObject(parsed) ? parsed['accounts'] : undefined;
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError('ACCOUNTS_FILE', 'has no list "accounts"', SHAPE);
  const seen = new Set<string>();
  return list.map((account, i) => {
    if (!isObject(account)) throw new ConfigError(`ACCOUNTS_FILE accounts[${i}]`, 'is malformed', SHAPE);
    const id = account['id'];
    if (typeof id !== 'string' || !ACCOUNT_ID.test(id))
      throw new ConfigError(`ACCOUNTS_FILE accounts[${i}].id`, 'is malformed', 'lowercase letters, digits, _ or -, up to 32, e.g. brand-a');
    if (seen.has(id)) throw new ConfigError(`ACCOUNTS_FILE accounts[${i}].id`, `repeats "${id}"`, 'a different id for each account');
    seen.add(id);
    return { id, ...accountEnv(account, `account "${id}"`, env) };
  });
}

/**
 * The environment an account of the file runs with: the process's, its own fields in place of the
 * credentials. A field the file gives by a ${NAME} this process lacks is unset for the account,
 * never the process's own value of that variable (another account's text, API base or setting).
 */
export function environmentOf(entry: AccountEntry, env: Env): Env {
  const out: Record<string, string | undefined> = { ...env };
  for (const name of [...ACCOUNT_CREDENTIALS, ...Object.keys(entry.unset)]) delete out[name];
  return { ...out, ...entry.env };
}

/** The variables that name a platform account: set in the environment, they configure the `default` account beside the file's. */
const IDENTITY = ['WECHAT_TOKEN', 'WECHAT_APP_ID', 'WECHAT_APP_SECRET', 'WECHAT_ENCODING_AES_KEY', 'IM_SDK_APP_ID', 'IM_SECRET_KEY'];

/** Whether the environment configures an account of its own (the `default` one) beside the file's. */
export function hasOwnAccount(env: Env): boolean {
  return IDENTITY.some((name) => env[name] !== undefined && env[name].trim() !== '');
}
