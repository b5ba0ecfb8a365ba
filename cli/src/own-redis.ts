import type { Config } from '@wxim/config';
import { ConfigError } from '@wxim/config';
import { type PrivateRedis, WAYS_TO_GET_ONE, startPrivateRedis } from './private-redis.js';
import { probeRedis } from './redis-probe.js';

const unset = (name: string) => (process.env[name] ?? '').trim() === '';

/**
 * `npm start` on a fresh machine: with no Redis configured (REDIS_URL, REDIS_SENTINELS and
 * REDIS_CLUSTER unset) and nothing listening at the default address, the relay starts a Redis of
 * its own there and says so in one line; otherwise it uses the Redis it is given, as every
 * service does (and retries it while it is away).
 */
export async function ownRedisIfNone(config: Config): Promise<PrivateRedis | undefined> {
  if (!unset('REDIS_URL') || !unset('REDIS_SENTINELS') || config.redisCluster) return undefined;
  const address = new URL(config.redisUrl);
  const host = address.hostname;
  const port = Number(address.port || 6379);
  const found = await probeRedis(host, port);
  if (found === 'noauth')
    throw new ConfigError('REDIS_URL', `is not set, and the Redis at ${host}:${port} wants a password`, 'set REDIS_URL with it (redis://:password@host:port)');
  if (found === 'other')
    throw new ConfigError('REDIS_URL', `is not set, and what listens at ${host}:${port} is not a Redis that answers PING`, WAYS_TO_GET_ONE);
  if (found !== 'absent') return undefined;
  const redis = await startPrivateRedis(host, port);
  process.stdout.write(
    `relay: REDIS_URL is not set and nothing answered at ${host}:${port}: started a Redis of its own there (redis-server, AOF fsynced on every write) with its data in ${redis.dir}, kept between runs; it stops with the relay. To use your own Redis, set REDIS_URL.\n`,
  );
  return redis;
}
