import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@wxim/config';
import { onPath, probeRedis, redisDir } from './redis-probe.js';

/** Where `npm start` keeps its own Redis's data: `.data/redis` at the project's root (git ignores `.data`). */
export const PRIVATE_REDIS_DIR = fileURLToPath(new URL('../../.data/redis', import.meta.url));

/** How long the private Redis may take to answer: replaying a large AOF takes seconds. */
const START_MS = 60_000;
/** How long it may take to write its AOF and exit once the relay has stopped. */
const STOP_MS = 5000;

export const WAYS_TO_GET_ONE =
  'set REDIS_URL to a Redis, or install redis-server (apt-get install redis-server, brew install redis) and npm start runs one of its own, or run the relay with docker compose up';

/**
 * Runs redis-server until this process ends, whichever way it ends. The shell ignores the
 * terminal's signals (it is in a process group of its own: Ctrl-C reaches the relay, which stops
 * Redis only once the services have handed their jobs back) and stops Redis when its standard
 * input closes: when the relay closes it, and when the relay dies, even by SIGKILL.
 */
const GUARD = `trap '' INT TERM HUP
exec 3<&0
redis-server "$@" </dev/null &
pid=$!
(read -r _ <&3; kill -TERM "$pid" 2>/dev/null) &
wait "$pid"`;

export interface PrivateRedis {
  url: string;
  dir: string;
  /** Stops Redis (it writes its AOF and exits); past a few seconds, kills it. */
  stop(): Promise<void>;
}

/**
 * A Redis of the relay's own for `npm start` on a machine with none: redis-server from PATH on
 * `host:port`, with its data in `dir`, kept between runs. It is configured as the relay needs
 * (see docs/redis.md): AOF fsynced before every answer, since the gateway tells WeChat a
 * push is stored once Redis says so, and no eviction.
 */
export async function startPrivateRedis(host: string, port: number, dir = PRIVATE_REDIS_DIR): Promise<PrivateRedis> {
  if (onPath('redis-server') === undefined)
    throw new ConfigError('REDIS_URL', `is not set, nothing answers at ${host}:${port} and there is no redis-server on PATH to start one`, WAYS_TO_GET_ONE);
  mkdirSync(dir, { recursive: true });
  const args = ['--bind', host, '--port', String(port), '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''];
  args.push('--maxmemory-policy', 'noeviction', '--pidfile', `${dir}/redis.pid`, '--logfile', `${dir}/redis.log`, '--daemonize', 'no');
  const child = spawn('sh', ['-c', GUARD, 'sh', ...args], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const failed = () => new ConfigError('REDIS_URL', `is not set and the relay's own Redis did not start (see ${dir}/redis.log)`, WAYS_TO_GET_ONE);
  const deadline = Date.now() + START_MS;
  // Ours once a Redis with our data folder answers: another that took the port meanwhile is not.
  while ((await probeRedis(host, port)) !== 'pong' || (await redisDir(host, port)) !== realpathSync(dir)) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      kill(child);
      throw failed();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `redis://${host}:${port}`,
    dir,
    async stop() {
      child.stdin?.end();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, STOP_MS)))]);
      clearTimeout(timer);
      kill(child);
    },
  };
}

/** Kills the shell and what it started (its process group), if still there. */
function kill(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
