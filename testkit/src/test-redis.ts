import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { LocalRedis, waitForRedis } from './local-redis.js';
import { Redis } from 'ioredis';

/**
 * A Redis for one test file: REDIS_URL when set, else a redis-server spawned on a free port when
 * one is on PATH, else a container when a Docker engine answers (the image compose names). Tests that stop, freeze and restart Redis ask for
 * `own`, which always spawns one they control.
 */
export interface TestRedis {
  url: string;
  /** Where this Redis came from: env, container or spawned. */
  source: 'env' | 'container' | 'spawned';
  /** Kills the server (own only; only what AOF holds survives); `start` brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open but nothing answers. `resume` thaws it. */
  pause(): void;
  resume(): void;
  /** Ends it for good and removes what it left on disk. */
  close(): Promise<void>;
}

export interface TestRedisOptions {
  own?: boolean;
  appendonly?: boolean;
}

function notOwn(what: string): () => never {
  return () => {
    throw new Error(`the Redis of ${what} cannot be stopped or paused; ask for own: true`);
  };
}

function redisServerOnPath(): boolean {
  return (process.env['PATH'] ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, 'redis-server')));
}

async function fromContainer(): Promise<TestRedis | undefined> {
  if (process.env['DOCKER_HOST'] === undefined && !existsSync('/var/run/docker.sock')) return undefined;
  try {
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer('redis:7-bookworm')
      .withCommand(['redis-server', '--appendonly', 'yes', '--maxmemory-policy', 'noeviction'])
      .withExposedPorts(6379)
      .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
      .withStartupTimeout(30_000)
      .start();
    const refuse = notOwn('a container');
    return {
      url: `redis://${container.getHost()}:${container.getMappedPort(6379)}`,
      source: 'container',
      stop: async () => refuse(),
      start: async () => {},
      pause: refuse,
      resume: () => {},
      close: async () => {
        await container.stop();
      },
    };
  } catch {
    return undefined; // the engine did not answer after all: fall back to a spawned server
  }
}

export async function startTestRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  if (!options.own) {
    const envUrl = process.env['REDIS_URL'];
    if (envUrl !== undefined && envUrl !== '') {
      await waitForRedis(envUrl, 5000);
      const refuse = notOwn('REDIS_URL');
      return { url: envUrl, source: 'env', stop: async () => refuse(), start: async () => {}, pause: refuse, resume: () => {}, close: async () => {} };
    }
    const container = redisServerOnPath() ? undefined : await fromContainer();
    if (container !== undefined) return container;
  }
  const local = await LocalRedis.start({ appendonly: options.appendonly ?? false, appendfsync: 'always' });
  return {
    url: local.url,
    source: 'spawned',
    start: () => local.start(),
    stop: () => local.stop(),
    pause: () => local.pause(),
    resume: () => local.resume(),
    close: () => local.close(),
  };
}

/** A key prefix of its own for each test, so tests sharing one Redis never see each other's keys. */
export function testPrefix(): string {
  return `t${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * A Redis and what `start` builds on it, for one test file: both ended, in that order, when the
 * file's tests are done.
 */
export async function onTestRedis<R extends { close(): Promise<void> }>(
  t: { teardown(fn: () => Promise<void>): void },
  start: (redisUrl: string) => Promise<R>,
): Promise<R & { redisUrl: string }> {
  const redis = await startTestRedis();
  const started = await start(redis.url);
  t.teardown(async () => {
    await started.close();
    await redis.close();
  });
  return Object.assign(started, { redisUrl: redis.url });
}

/** A Redis for one test file and a connection to it, both ended when the file's tests are done. */
export async function testRedisConnection(t: { teardown(fn: () => Promise<void>): void }): Promise<{ server: TestRedis; redis: Redis }> {
  const server = await startTestRedis();
  const redis = new Redis(server.url);
  t.teardown(async () => {
    redis.disconnect();
    await server.close();
  });
  return { server, redis };
}
