import { ConfigError } from './config-error.js';
import { type Env, raw } from './readers.js';

/** Redis through Sentinel: the sentinels say which server is the primary, now and after a failover. */
export interface SentinelConfig {
  /** REDIS_SENTINELS: the sentinels to ask, in order. */
  sentinels: { host: string; port: number }[];
  /** REDIS_SENTINEL_NAME: the name the sentinels monitor the primary under (`sentinel monitor <name> …`). */
  name: string;
  /** REDIS_SENTINEL_PASSWORD: the sentinels' own password (`requirepass` in their configuration), if they have one. */
  password?: string;
}

const SENTINEL_PORT = 26379;
// A host name, an IPv4 address or a bracketed IPv6 address, then an optional port.
const ADDRESS = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?))(?::(\d{1,5}))?$/;
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const ADDRESSES_EXPECTED =
  'comma-separated host:port of the sentinels, e.g. redis-sentinel-0:26379,redis-sentinel-1:26379,redis-sentinel-2:26379 (the port is 26379 when left out)';
const NAME_EXPECTED = 'the name the sentinels monitor the primary under (sentinel monitor <name> …), e.g. mymaster: up to 64 of A-Z a-z 0-9 _ . -';

function address(item: string): { host: string; port: number } {
  const match = ADDRESS.exec(item);
  const port = match?.[3] === undefined ? SENTINEL_PORT : Number(match[3]);
  if (match === null || port < 1 || port > 65535) throw new ConfigError('REDIS_SENTINELS', 'is malformed', ADDRESSES_EXPECTED);
  return { host: (match[1] ?? match[2])!, port };
}

/**
 * REDIS_SENTINELS and REDIS_SENTINEL_NAME come together or not at all; the sentinels' password
 * only with them. Not with REDIS_CLUSTER: a cluster elects its own primaries.
 */
export function redisSentinel(env: Env, cluster: boolean): SentinelConfig | undefined {
  const list = raw(env, 'REDIS_SENTINELS');
  const name = raw(env, 'REDIS_SENTINEL_NAME');
  const password = raw(env, 'REDIS_SENTINEL_PASSWORD');
  if (list === undefined) {
    if (name !== undefined) throw new ConfigError('REDIS_SENTINELS', 'is missing', `${ADDRESSES_EXPECTED}; it is needed with REDIS_SENTINEL_NAME`);
    if (password !== undefined) throw new ConfigError('REDIS_SENTINEL_PASSWORD', 'is set without REDIS_SENTINELS', 'set the sentinels too, or leave it empty');
    return undefined;
  }
  if (cluster)
    throw new ConfigError(
      'REDIS_SENTINELS',
      'is set with REDIS_CLUSTER=1',
      'one or the other: a Redis Cluster fails over by itself, Sentinel watches a primary and its replicas',
    );
  const items = list.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new ConfigError('REDIS_SENTINELS', 'is malformed', ADDRESSES_EXPECTED);
  const sentinels = items.map(address);
  if (name === undefined) throw new ConfigError('REDIS_SENTINEL_NAME', 'is missing', `${NAME_EXPECTED}; it is needed with REDIS_SENTINELS`);
  if (!NAME.test(name)) throw new ConfigError('REDIS_SENTINEL_NAME', 'is malformed', NAME_EXPECTED);
  return { sentinels, name, ...(password === undefined ? {} : { password }) };
}
