import { Cluster, Redis, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

/**
 * `queue`: connections that answer a caller who is waiting (the gateway's ack): commands fail
 * at once while Redis is away instead of piling up. `worker`: blocking connections of BullMQ
 * workers, which wait for Redis for as long as it takes (BullMQ requires maxRetriesPerRequest null).
 */
export type ConnectionRole = 'queue' | 'worker';

export interface ConnectionSettings {
  redisUrl: string;
  cluster?: boolean;
  /** Shown in CLIENT LIST, which helps an operator tell the services apart. */
  name?: string;
}

function optionsFor(role: ConnectionRole, name: string | undefined): RedisOptions {
  const common: RedisOptions = {
    ...(name === undefined ? {} : { connectionName: name }),
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  };
  return role === 'queue'
    ? { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 }
    : { ...common, enableOfflineQueue: true, maxRetriesPerRequest: null };
}

export function createRedis(settings: ConnectionSettings, role: ConnectionRole): RedisClient {
  const options = optionsFor(role, settings.name);
  if (settings.cluster) {
    return new Cluster([settings.redisUrl], { redisOptions: options, enableOfflineQueue: options.enableOfflineQueue ?? true });
  }
  return new Redis(settings.redisUrl, options);
}
