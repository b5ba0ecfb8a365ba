import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { LocalRedis, freePort } from './local-redis.js';
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
 * LocalRedis servers in cluster mode, joined by `redis-cli --cluster create`.
 */
export async function startTestRedisCluster(password: string, nodes = 3): Promise<TestRedisCluster> {
  const servers: LocalRedis[] = [];
  const close = async () => {
    await Promise.all(servers.map((s) => s.close()));
  };
  try {
    for (let i = 0; i < nodes; i++) {
      // The bus port is given: port + 10000 may be taken, or past 65535.
      servers.push(await LocalRedis.start({ args: ['--cluster-enabled', 'yes', '--cluster-port', String(await freePort())] }));
    }
    const ports = servers.map((s) => s.port);
    await promisify(execFile)('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    const admin = ports.map((port) => new Redis({ port, host: '127.0.0.1' }));
    try {
      await eventually('the cluster is ok', async () =>
        (await Promise.all(admin.map((a) => a.cluster('INFO')))).every((info) => info.includes('cluster_state:ok')),
      );
      // The password comes last, so that forming the cluster needs none.
      for (const a of admin) await a.config('SET', 'requirepass', password);
    } finally {
      for (const a of admin) a.disconnect();
    }
    return { url: `redis://default:${encodeURIComponent(password)}@127.0.0.1:${ports[0]}`, ports, close };
  } catch (err) {
    await close();
    throw err;
  }
}
