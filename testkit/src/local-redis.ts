import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** Where the kernel takes the local ports of outgoing connections from (Linux's default when unreadable). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 11_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Ports this process handed out: two asked for before either listens are never the same. */
const handedOut = new Set<number>();

/**
 * A TCP port that was free a moment ago on loopback. Below the range the kernel takes outgoing
 * connections' local ports from: a port picked there (as `listen(0)` picks) can be taken by any
 * client's connection, a Redis client's say, before the service listens on it (EADDRINUSE).
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  for (let tries = 0; tries < 200; tries++) {
    const port = 10_000 + randomInt(low - 10_000);
    if (handedOut.has(port) || !(await portFree(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port found between 10000 and ${low}`);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '0.0.0.0', () => srv.close(() => resolve(true)));
  });
}

/** A TCP port that, with the `count - 1` after it, was free a moment ago (sandbox mode listens on SANDBOX_PORT and the two after it). */
export async function freePortRun(count: number): Promise<number> {
  for (;;) {
    const port = await freePort();
    let all = port + count <= 65536;
    for (let i = 1; all && i < count; i++) all = !handedOut.has(port + i) && (await portFree(port + i));
    if (!all) continue;
    for (let i = 1; i < count; i++) handedOut.add(port + i);
    return port;
  }
}

/** Resolves once a Redis at `url` answers PING, retrying until `timeoutMs`. */
export async function waitForRedis(url: string, timeoutMs: number): Promise<void> {
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

export interface LocalRedisOptions {
  appendonly?: boolean;
  appendfsync?: 'always' | 'everysec';
  /** `auto-aof-rewrite-min-size`, e.g. '512mb'; Redis's own default (64mb) when absent. */
  aofRewriteMinSize?: string;
  /** `requirepass` (and `masterauth`, for a replica of a server with the same password); the URL carries it. */
  password?: string;
  /** More redis-server arguments, e.g. `['--cluster-enabled', 'yes']`. */
  args?: readonly string[];
}

/**
 * A redis-server of its own on a free loopback port and a temporary directory, configured as
 * production needs (noeviction, optional AOF): for tests that stop, freeze or restart Redis, and
 * for benchmarks. `stop` kills it (only what AOF holds survives); `start` brings it back on the
 * same port and directory.
 */
export class LocalRedis {
  private proc?: ChildProcess;
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly options: LocalRedisOptions,
  ) {}

  get url(): string {
    const password = this.options.password;
    return `redis://${password === undefined ? '' : `default:${encodeURIComponent(password)}@`}127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  static async start(options: LocalRedisOptions = {}): Promise<LocalRedis> {
    const redis = new LocalRedis(await freePort(), mkdtempSync(join(tmpdir(), 'wxim-redis-')), options);
    await redis.start();
    return redis;
  }

  /** `timeoutMs`: how long to wait for it to answer, which includes replaying its AOF; `args`: for this start only. */
  async start(timeoutMs = 10_000, args: readonly string[] = []): Promise<void> {
    const { appendonly = false, appendfsync = 'always' } = this.options;
    const all = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--dir', this.dir, '--maxmemory-policy', 'noeviction'];
    all.push('--appendonly', appendonly ? 'yes' : 'no', '--appendfsync', appendfsync);
    if (this.options.password !== undefined) all.push('--requirepass', this.options.password, '--masterauth', this.options.password);
    if (this.options.aofRewriteMinSize !== undefined) all.push('--auto-aof-rewrite-min-size', this.options.aofRewriteMinSize);
    all.push(...(this.options.args ?? []), ...args);
    this.proc = spawn('redis-server', all, { stdio: 'ignore' });
    await waitForRedis(this.url, timeoutMs);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGCONT');
    p.kill('SIGKILL');
    await exited;
    this.proc = undefined;
  }

  /** Freezes the server (SIGSTOP): connections stay open but nothing answers. */
  pause(): void {
    this.proc?.kill('SIGSTOP');
  }

  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
