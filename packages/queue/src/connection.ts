import { AWAY_RETRY_MS } from './redis-away.js';
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

/**
 * `queue`: connections that answer a caller who is waiting (the gateway's ack): commands fail
 * at once while Redis is away instead of piling up. `state`: a worker's own commands (its turn,
 * the rate cap, the lock checks), which wait for Redis to come back. `worker`: the connections
 * BullMQ workers are given (BullMQ requires maxRetriesPerRequest null), whose blocking commands
 * wait up to 10 s for a job.
 */
export type ConnectionRole = 'queue' | 'state' | 'worker';

/** The sentinels to ask where the primary is, the name they know it by, and their own password if any. */
export interface SentinelSettings {
  sentinels: { host: string; port: number }[];
  name: string;
  password?: string;
}

export interface ConnectionSettings {
  redisUrl: string;
  cluster?: boolean;
  /** Through Sentinel: the URL's host and port are not used; its user, password, database and TLS are the primary's. */
  sentinel?: SentinelSettings;
  /** Shown in CLIENT LIST, which helps an operator tell the services apart. */
  name?: string;
}

/**
 * Nothing waits forever on a dead connection (a peer gone without closing it, a network cut):
 * TCP keep-alive probes idle connections, a command without its reply after `TIMEOUT_MS` fails,
 * and a connection that owes a reply and hears nothing for that long is dropped and made again.
 * The timeout outlasts what a command may legitimately wait: a BullMQ worker's blocking fetch
 * (at most 10 s), the gateway's WAIT for replicas (within its 4 s budget). BullMQ's connections
 * (`worker`) have no socket timeout: their blocking fetch is always waiting for a reply, and
 * BullMQ watches it itself, making the connection again when it is stuck.
 */
const TIMEOUT_MS: Record<ConnectionRole, number> = { queue: 10_000, state: 10_000, worker: 30_000 };

function optionsFor(role: ConnectionRole, name: string | undefined): RedisOptions {
  const common: RedisOptions = {
    ...(name === undefined ? {} : { connectionName: name }),
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    keepAlive: 10_000,
    commandTimeout: TIMEOUT_MS[role],
    ...(role === 'worker' ? {} : { socketTimeout: TIMEOUT_MS[role] }),
  };
  // The stores answer a platform within a budget of a second or two, trying again every
  // AWAY_RETRY_MS while Redis is away: their connection is made again as often for the first 2 s
  // (a restart, a failover), so that a Redis back within the budget is used within it.
  return role === 'queue'
    ? {
        ...common,
        retryStrategy: (times) => (times <= 20 ? AWAY_RETRY_MS : Math.min(100 * 2 ** Math.min(times - 20, 5), 2000)),
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: 2000,
      }
    : { ...common, enableOfflineQueue: true, maxRetriesPerRequest: null };
}

/**
 * A cluster is reached through the node in the URL, then through the nodes it names. ioredis
 * gives those only host and port: the URL's user, password and TLS (`rediss://`) must be in
 * the options every node connection is made with.
 */
function clusterNode(redisUrl: string): { node: { host: string; port: number }; options: RedisOptions } {
  const url = new URL(redisUrl);
  const options: RedisOptions = {
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
  };
  return { node: { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || 6379) }, options };
}

/**
 * ioredis asks the sentinels for the primary each time it connects. Three things make sure it
 * asks again after a failover rather than writing to a server that is no longer the primary: the
 * failover detector (a subscription to the sentinels' `+switch-master`) drops the connection the
 * moment they switch; a connection that reaches a replica (the old primary, demoted) is dropped by
 * ioredis's role check; a command answered READONLY (a connection made just before the switch)
 * fails and the connection is made again. The failed command is not sent again: its caller
 * decides (the gateway answers 503 and WeChat retries; BullMQ retries its own).
 */
function throughSentinels(redisUrl: string, sentinel: SentinelSettings): RedisOptions {
  const tls = new URL(redisUrl).protocol === 'rediss:';
  return {
    sentinels: sentinel.sentinels,
    name: sentinel.name,
    ...(sentinel.password === undefined ? {} : { sentinelPassword: sentinel.password }),
    // rediss://: TLS to the primary and to the sentinels alike.
    ...(tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
    // A sentinel that takes the connection but never answers must not hold the connection up.
    sentinelCommandTimeout: 2000,
    failoverDetector: true,
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  };
}

/** A service's connection settings from its configuration, named `name` in CLIENT LIST. */
export function connectionSettings(
  config: { redisUrl: string; redisCluster: boolean; redisSentinel?: SentinelSettings | undefined },
  name: string,
): ConnectionSettings {
  return { redisUrl: config.redisUrl, cluster: config.redisCluster, ...(config.redisSentinel ? { sentinel: config.redisSentinel } : {}), name };
}

export function createRedis(settings: ConnectionSettings, role: ConnectionRole): RedisClient {
  const options = optionsFor(role, settings.name);
  if (settings.sentinel) return new Redis(settings.redisUrl, { ...options, ...throughSentinels(settings.redisUrl, settings.sentinel) });
  if (settings.cluster) {
    const { node, options: auth } = clusterNode(settings.redisUrl);
    return new Cluster([node], { redisOptions: { ...options, ...auth }, enableOfflineQueue: options.enableOfflineQueue ?? true });
  }
  return new Redis(settings.redisUrl, options);
}

/**
 * Resolves once `client` is connected, or refused (an error), or `maxMs` has passed: a command
 * after it then runs, or fails at once on a connection that queues none while Redis is away.
 */
export async function whenConnected(client: RedisClient, maxMs = Infinity): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off('ready', done);
      client.off('error', done);
      resolve();
    };
    const timer = Number.isFinite(maxMs) ? setTimeout(done, maxMs) : undefined;
    client.once('ready', done);
    client.once('error', done);
  });
}
