import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalRedis } from '@wxim/testkit';
import { Redis } from 'ioredis';
import { request } from 'undici';

export { freePort } from '@wxim/testkit';

export interface Proc {
  name: string;
  pid: number | undefined;
  /** Peak resident set size so far, in MB (VmHWM), read from /proc. */
  peakRssMb(): number;
  /** CPU seconds used so far (user + system), read from /proc. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** Peak RSS and CPU of a process by pid (which a restart changes), read from /proc; `stop` ends it. */
function track(name: string, pidOf: () => number | undefined, stop: () => Promise<void>): Proc {
  let lastPeak = 0;
  return {
    name,
    get pid() {
      return pidOf();
    },
    peakRssMb() {
      try {
        const kb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pidOf()}/status`, 'utf8'))?.[1] ?? 0);
        lastPeak = Math.max(lastPeak, kb / 1024);
      } catch {
        // the process has ended: keep the last reading
      }
      return lastPeak;
    },
    cpuSeconds() {
      try {
        const fields = readFileSync(`/proc/${pidOf()}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return (Number(fields[11]) + Number(fields[12])) / 100;
      } catch {
        return Number.NaN;
      }
    },
    async stop() {
      this.peakRssMb();
      await stop();
    },
  };
}

function trackChild(name: string, child: ChildProcess): Proc {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  child.once('exit', (code, signal) => {
    if (code !== 0 && code !== null && signal === null) process.stderr.write(`${name} exited with ${code}: ${stderr}\n`);
  });
  return track(
    name,
    () => child.pid,
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  );
}

export interface BenchRedis extends Proc {
  url: string;
  client: Redis;
  usedMemoryMb(): Promise<number>;
  /** Kills Redis and starts it again on its AOF: how big the AOF was and how long until it answered. */
  restart(): Promise<{ aofMb: number; seconds: number }>;
}

/** `appendfsync` of the benchmark's Redis: `always`, as docs/redis.md asks, unless BENCH_APPENDFSYNC=everysec. */
export const APPENDFSYNC = process.env['BENCH_APPENDFSYNC'] === 'everysec' ? 'everysec' : 'always';

/**
 * A redis-server of the benchmark's own, configured as docs/redis.md asks for production (AOF
 * fsynced before every answer, rewrite from 512 MB). BENCH_APPENDFSYNC and
 * BENCH_AOF_REWRITE_MIN_SIZE override them.
 */
export async function startRedis(aofRewriteMinSize = process.env['BENCH_AOF_REWRITE_MIN_SIZE'] ?? '512mb'): Promise<BenchRedis> {
  const appendfsync = APPENDFSYNC;
  const local = await LocalRedis.start({ appendonly: true, appendfsync, aofRewriteMinSize });
  const client = new Redis(local.url);
  client.on('error', () => {});
  const proc = track(
    'redis',
    () => local.pid,
    async () => {
      client.disconnect();
      await local.close();
    },
  );
  // Object.assign, not a spread: `pid` is a getter (a restart changes it).
  return Object.assign(proc, {
    url: local.url,
    client,
    async usedMemoryMb() {
      const info = await client.info('memory');
      return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) / 1024 / 1024;
    },
    async restart() {
      const info = await client.info('persistence');
      const aofMb = Number(/aof_current_size:(\d+)/.exec(info)?.[1] ?? 0) / 1024 / 1024;
      await local.stop();
      const started = performance.now();
      await local.start(300_000); // resolves once Redis answers, i.e. after it has replayed the AOF
      return { aofMb, seconds: (performance.now() - started) / 1000 };
    },
  });
}

/** Runs a built Node entry point as its own process and waits until `readyUrl` answers 200. */
export async function startNode(name: string, entry: string, env: Record<string, string>, readyUrl: string): Promise<Proc> {
  // BENCH_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the services under load.
  const nodeArgs = (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  // BENCH_STDOUT_DIR keeps each process's standard output (e.g. with --trace-gc) as <dir>/<name>.log.
  const outDir = process.env['BENCH_STDOUT_DIR'];
  if (outDir !== undefined) mkdirSync(outDir, { recursive: true });
  const stdout = outDir === undefined ? 'ignore' : openSync(join(outDir, `${name}.log`), 'a');
  const child = spawn(process.execPath, [...nodeArgs, entry], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', stdout, 'pipe'] });
  const proc = trackChild(name, child);
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited during start-up`);
    try {
      const res = await request(readyUrl);
      await res.body.dump();
      if (res.statusCode === 200) return proc;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} not ready at ${readyUrl}`);
    await sleep(50);
  }
}

const sandboxEntry = (name: string) => fileURLToPath(new URL(`../../../packages/sandbox/dist/${name}`, import.meta.url));

/** The IM simulator as its own process on `port` (with `env`: SIM_RATE_LIMIT, SIM_CALLBACK_URL…); resolves once it answers. */
export function startImSimulator(port: number, env: Record<string, string> = {}): Promise<Proc> {
  return startNode('im-simulator', sandboxEntry('im-simulator-main.js'), { SIM_PORT: String(port), ...env }, `http://127.0.0.1:${port}/healthz`);
}

/** The WeChat API simulator as its own process on `port`; resolves once it answers. */
export function startWechatApiSimulator(port: number): Promise<Proc> {
  return startNode('wechat-api-simulator', sandboxEntry('wechat-api-simulator-main.js'), { SIM_PORT: String(port) }, `http://127.0.0.1:${port}/sim/stats`);
}
