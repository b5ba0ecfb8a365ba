import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@wxim/sandbox';
import { Redis } from 'ioredis';
import { eventually } from './eventually.js';

export interface TestRedisCluster {
  /** `redis://default:<password>@127.0.0.1:<first node's port>`, the password URL-encoded. */
  url: string;
  ports: number[];
  close(): Promise<void>;
}

/**
 * A Redis Cluster of three primaries on free loopback ports, each requiring `password`:
 * redis-server processes of its own, joined by `redis-cli --cluster create`.
 */
export async function startTestRedisCluster(password: string, nodes = 3): Promise<TestRedisCluster> {
  const ports: number[] = [];
  const busPorts: number[] = []; // given explicitly: port + 10000 may be taken, or past 65535
  while (ports.length + busPorts.length < 2 * nodes) {
    const port = await freePort(); // free now, and not one already picked (none is bound yet)
    if (ports.includes(port) || busPorts.includes(port)) continue;
    (ports.length < nodes ? ports : busPorts).push(port);
  }
  const dirs = ports.map(() => mkdtempSync(join(tmpdir(), 'wxim-cluster-')));
  const procs: ChildProcess[] = ports.map((port, i) =>
    spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dirs[i]!,
        '--cluster-enabled',
        'yes',
        '--cluster-port',
        String(busPorts[i]),
      ],
      {
        stdio: 'ignore',
      },
    ),
  );
  const close = async () => {
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    const admin = ports.map((port) => new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 50 }));
    for (const a of admin) a.on('error', () => {});
    await eventually('the cluster nodes answer', async () => (await Promise.all(admin.map((a) => a.ping().catch(() => '')))).every((r) => r === 'PONG'));
    const cli = promisify(execFile);
    await cli('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    await eventually('the cluster is ok', async () =>
      (await Promise.all(admin.map((a) => a.cluster('INFO') as Promise<string>))).every((info) => info.includes('cluster_state:ok')),
    );
    // The password comes last, so that forming the cluster needs none.
    for (const a of admin) await a.config('SET', 'requirepass', password);
    for (const a of admin) a.disconnect();
  } catch (err) {
    await close();
    throw err;
  }
  return { url: `redis://default:${encodeURIComponent(password)}@127.0.0.1:${ports[0]}`, ports, close };
}
