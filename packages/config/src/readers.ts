import { ConfigError } from './config-error.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** Reads one variable; an empty string counts as unset. */
export function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function matching(env: Env, name: string, pattern: RegExp, expected: string): string | undefined {
  const value = raw(env, name);
  if (value !== undefined && !pattern.test(value)) throw new ConfigError(name, 'is malformed', expected);
  return value;
}

export function required<T>(name: string, value: T | undefined, expected: string): T {
  if (value === undefined) throw new ConfigError(name, 'is missing', expected);
  return value;
}

export function port(env: Env, name: string, fallback: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new ConfigError(name, 'is malformed', 'a TCP port from 0 to 65535');
  return n;
}

export function integer(env: Env, name: string, min: number, max: number, fallback: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new ConfigError(name, 'is malformed', `a whole number from ${min} to ${max}`);
  return n;
}

export function flag(env: Env, name: string, fallback: boolean): boolean {
  const value = raw(env, name)?.toLowerCase();
  if (value === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new ConfigError(name, 'is malformed', '1 or 0');
}

export function oneOf<T extends string>(env: Env, name: string, choices: readonly T[], fallback: T): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value)) throw new ConfigError(name, 'is malformed', `one of ${choices.join(', ')}`);
  return value as T;
}

export function url(env: Env, name: string, protocols: readonly string[], fallback: string): string {
  const value = raw(env, name) ?? fallback;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, 'is malformed', `a URL such as ${fallback}`);
  }
  if (!protocols.includes(parsed.protocol)) throw new ConfigError(name, 'is malformed', `a ${protocols.join(' or ')} URL such as ${fallback}`);
  return value.replace(/\/+$/, '');
}

export function list(env: Env, name: string, item: RegExp, expected: string): string[] {
  const value = raw(env, name);
  if (value === undefined) return [];
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0 || items.some((s) => !item.test(s))) throw new ConfigError(name, 'is malformed', expected);
  return [...new Set(items)];
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * A platform's API origin: `https://host[:port]` and nothing more (no path, query or
 * credentials), or `http:` for a loopback host (a simulator). Secrets travel in its requests (the
 * IM admin's UserSig, WeChat's access_token), so never in clear over a network.
 */
export function origin(env: Env, name: string, fallback: string): string {
  const value = raw(env, name) ?? fallback;
  const expected = `a bare https:// origin such as ${fallback}, with no path, query or credentials (http:// only for a loopback host)`;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, 'is malformed', expected);
  }
  const secure = parsed.protocol === 'https:' || (parsed.protocol === 'http:' && isLoopback(parsed.hostname));
  const bare = parsed.username === '' && parsed.password === '' && parsed.pathname === '/' && parsed.search === '' && parsed.hash === '' && !/[?#]/.test(value);
  if (!secure || !bare) throw new ConfigError(name, 'is malformed', expected);
  return parsed.origin;
}
