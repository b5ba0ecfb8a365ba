import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/**
 * A Redis for one test file: REDIS_URL when set, else a container when a Docker engine answers,
 * else a redis-server spawned on a free port. Tests that stop and restart Redis ask for `own`,
 * which always spawns one they control.
 */
export interface TestRedis {
  url: string;
  /** Where this Redis came from: env, container or spawned. */
  source: 'env' | 'container' | 'spawned';
  /** Stops the server (spawned only); `start` brings it back on the same port. */
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

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function pingable(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    client.on('error', () => {});
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch {
      if (Date.now() > deadline) throw new Error(`Redis at ${url} did not answer within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    } finally {
      client.disconnect();
    }
  }
}

function dockerAnswers(): boolean {
  return process.env['DOCKER_HOST'] !== undefined || existsSync('/var/run/docker.sock');
}

async function fromContainer(): Promise<TestRedis | undefined> {
  if (!dockerAnswers()) return undefined;
  try {
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer('redis:7-alpine')
      .withCommand(['redis-server', '--appendonly', 'yes', '--maxmemory-policy', 'noeviction'])
      .withExposedPorts(6379)
      .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
      .withStartupTimeout(30_000)
      .start();
    const url = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
    return {
      url,
      source: 'container',
      stop: async () => {
        throw new Error('a container Redis cannot be stopped; ask for own: true');
      },
      start: async () => {},
      pause: () => {
        throw new Error('a container Redis cannot be paused; ask for own: true');
      },
      resume: () => {},
      close: async () => {
        await container.stop();
      },
    };
  } catch {
    return undefined; // the engine did not answer after all: fall back to a spawned server
  }
}

async function spawned(appendonly: boolean): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'wxim-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        appendonly ? 'yes' : 'no',
        '--appendfsync',
        'always',
        '--dir',
        dir,
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: 'ignore' },
    );
    await pingable(url, 10_000);
  };
  const stop = async () => {
    const p = proc;
    if (p === undefined || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
    proc = undefined;
  };
  await start();
  return {
    url,
    source: 'spawned',
    start,
    stop,
    pause: () => proc?.kill('SIGSTOP'),
    resume: () => proc?.kill('SIGCONT'),
    close: async () => {
      proc?.kill('SIGCONT');
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startTestRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  if (!options.own) {
    const envUrl = process.env['REDIS_URL'];
    if (envUrl !== undefined && envUrl !== '') {
      await pingable(envUrl, 5000);
      const unsupported = () => {
        throw new Error('the Redis of REDIS_URL cannot be stopped or paused; ask for own: true');
      };
      return {
        url: envUrl,
        source: 'env',
        stop: async () => unsupported(),
        start: async () => {},
        pause: unsupported,
        resume: () => {},
        close: async () => {},
      };
    }
    const container = await fromContainer();
    if (container !== undefined) return container;
  }
  return spawned(options.appendonly ?? false);
}

/** A key prefix of its own for each test, so tests sharing one Redis never see each other's keys. */
export function testPrefix(): string {
  return `t${Math.random().toString(36).slice(2, 10)}`;
}
