import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { eventually } from './eventually.js';
import { LocalRedis, freePort, waitForRedis } from './local-redis.js';

export interface SentinelSetOptions {
  /** The primary's and the replica's password (REDIS_URL's). */
  password: string;
  /** The sentinels' own password (REDIS_SENTINEL_PASSWORD). */
  sentinelPassword: string;
  /** The name the sentinels monitor the primary under. */
  name?: string;
  /** How long a server may not answer before a sentinel counts it down (2 s): short, so a test fails over in seconds. */
  downAfterMs?: number;
}

/**
 * Two redis-servers (AOF, fsync always), the second a replica of the first, and three sentinels
 * watching them with a quorum of two, each on a free loopback port with a directory of its own.
 * The relay reaches them through `env`: REDIS_URL carries only the password (its host is a name
 * that never resolves, so a connection that skips the sentinels cannot work).
 */
export class TestRedisSentinels {
  readonly name: string;
  private readonly admins = new Map<number, Redis>();

  private constructor(
    readonly servers: readonly [LocalRedis, LocalRedis],
    private readonly sentinels: SentinelProcess[],
    private readonly options: SentinelSetOptions,
  ) {
    this.name = options.name ?? 'mymaster';
  }

  static async start(options: SentinelSetOptions): Promise<TestRedisSentinels> {
    const servers: LocalRedis[] = [];
    const sentinels: SentinelProcess[] = [];
    try {
      servers.push(await LocalRedis.start({ appendonly: true, password: options.password }));
      const primary = servers[0]!;
      servers.push(await LocalRedis.start({ appendonly: true, password: options.password, args: ['--replicaof', '127.0.0.1', String(primary.port)] }));
      const set = new TestRedisSentinels([primary, servers[1]!], sentinels, options);
      // The replica first: a sentinel learns of it from the primary's INFO when it connects, not 10 s later.
      await eventually('the replica is in sync', async () => /master_link_status:up/.test(await set.admin(servers[1]!.port).info('replication')), 20_000);
      for (let i = 0; i < 3; i++) sentinels.push(await SentinelProcess.start(set.name, primary.port, options));
      await set.settled(primary.port);
      return set;
    } catch (err) {
      await Promise.all([...sentinels.map((s) => s.close()), ...servers.map((s) => s.close())]);
      throw err;
    }
  }

  /** REDIS_URL, REDIS_SENTINELS, REDIS_SENTINEL_NAME and REDIS_SENTINEL_PASSWORD for the relay. */
  get env(): Record<string, string> {
    return {
      REDIS_URL: `redis://default:${encodeURIComponent(this.options.password)}@primary.invalid:6379`,
      REDIS_SENTINELS: this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      REDIS_SENTINEL_NAME: this.name,
      REDIS_SENTINEL_PASSWORD: this.options.sentinelPassword,
    };
  }

  /** The server on `port`, for the test's own commands (with the password). */
  admin(port: number): Redis {
    let client = this.admins.get(port);
    if (client === undefined) {
      client = new Redis({ host: '127.0.0.1', port, password: this.options.password, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
      client.on('error', () => {});
      this.admins.set(port, client);
    }
    return client;
  }

  /** The port every sentinel names as the primary, or undefined while they disagree or cannot be asked. */
  async primaryPort(): Promise<number | undefined> {
    const answers = await Promise.all(this.sentinels.map((s) => s.ask('get-master-addr-by-name', this.name).catch(() => null)));
    const ports = new Set(answers.map((a) => (Array.isArray(a) ? Number(a[1]) : NaN)));
    const [port] = [...ports];
    return ports.size === 1 && Number.isInteger(port) ? port : undefined;
  }

  /** What each sentinel names as the primary (or why it did not answer) and its last events: why they did not settle. */
  private async views(): Promise<string> {
    const views = await Promise.all(
      this.sentinels.map(async (s) => {
        const named = await s.ask('get-master-addr-by-name', this.name).then(
          (a) => (Array.isArray(a) ? `names ${String(a[1])}` : `answers ${String(a)}`),
          (err: Error) => `does not answer (${err.message})`,
        );
        // Events are logged as `+sdown`, `-odown`, `+switch-master`…: the last few say what it did.
        const events = s
          .log()
          .split('\n')
          .filter((l) => / [+-][a-z-]+ /.test(l))
          .slice(-6)
          .map((l) => l.replace(/^\d+:X /, ''));
        return `sentinel ${s.port} ${named}, its last events: ${events.join(' | ') || 'none'}`;
      }),
    );
    return views.join('; ');
  }

  /**
   * Waits until every sentinel names `port` as the primary, no failover is under way, the primary
   * has its replica in sync, and each sentinel knows the other two and that replica: ready for
   * the next failover.
   */
  async settled(port: number, timeoutMs = 60_000): Promise<void> {
    const replica = this.servers.find((s) => s.port !== port)!;
    let missing = '';
    const not = (what: string) => ((missing = what), false);
    try {
      await eventually(
        `the sentinels agree on the primary on port ${port}, with its replica on ${replica.port} in sync`,
        async () => {
          if ((await this.primaryPort()) !== port) return not('the sentinels do not all name it');
          const info = await this.admin(port)
            .info('replication')
            .catch(() => '');
          if (!/role:master/.test(info)) return not('it is not a primary');
          if (!new RegExp(`slave\\d+:ip=127\\.0\\.0\\.1,port=${replica.port},state=online`).test(info)) {
            const role = /role:\w+/.exec(
              await this.admin(replica.port)
                .info('replication')
                .catch(() => ''),
            )?.[0];
            return not(`the replica is not online on it (the other server says ${role})`);
          }
          for (const s of this.sentinels) {
            const master = flat(await s.ask('master', this.name));
            if (/failover_in_progress|o_down|s_down/.test(master['flags'] ?? '')) return not(`sentinel ${s.port} flags ${master['flags']}`);
            if (master['num-other-sentinels'] !== '2') return not(`sentinel ${s.port} knows ${master['num-other-sentinels']} others`);
            const replicas = ((await s.ask('replicas', this.name)) as string[][]).map(flat);
            const known = replicas.find((r) => r['port'] === String(replica.port));
            if (known?.['flags'] !== 'slave' || known['master-link-status'] !== 'ok') {
              return not(`sentinel ${s.port} sees the replica as ${known?.['flags']}, link ${known?.['master-link-status']}`);
            }
          }
          return true;
        },
        timeoutMs,
        100,
      );
    } catch (err) {
      // A sentinel in TILT mode (its timer ran late) acts on nothing for 30 s: say so if one was.
      const tilts = this.sentinels.filter((s) => s.log().includes('+tilt')).map((s) => s.port);
      const tilted = tilts.length === 0 ? '' : `; sentinels in TILT mode at some point: ${tilts.join(', ')}`;
      throw new Error(`${(err as Error).message}: ${missing}${tilted}; ${await this.views()}`, { cause: err });
    }
  }

  /**
   * A failover by hand: SENTINEL FAILOVER on one sentinel, with writes on the primary going on
   * (no `CLIENT PAUSE`): the old primary takes writes until the switch is announced, and is made
   * a replica. `pauseWritesMs` pauses them first, as docs/redis.md allows.
   */
  async failover(pauseWritesMs = 0): Promise<void> {
    const port = await this.primaryPort();
    if (port === undefined) throw new Error('the sentinels do not agree on a primary');
    if (pauseWritesMs > 0) await this.admin(port).call('CLIENT', 'PAUSE', String(pauseWritesMs), 'WRITE');
    await this.sentinels[0]!.ask('failover', this.name);
  }

  /**
   * Brings a stopped server back as a replica of the primary on `primaryPort`, as a restarted pod
   * whose configuration follows the sentinels' view does. Left to the sentinels to convert (a
   * server that comes back as a primary), it waits for each sentinel's own timers, which a loaded
   * machine stretches (a sentinel whose timer runs late enters TILT mode and acts on nothing for
   * 30 s): this does not depend on them.
   */
  async restartAsReplica(server: LocalRedis, primaryPort: number): Promise<void> {
    await server.start(10_000, ['--replicaof', '127.0.0.1', String(primaryPort)]);
  }

  async close(): Promise<void> {
    for (const a of this.admins.values()) a.disconnect();
    await Promise.all([...this.sentinels.map((s) => s.close()), ...this.servers.map((s) => s.close())]);
  }
}

/** A flat [key, value, key, value…] reply as an object. */
function flat(reply: unknown): Record<string, string> {
  const items = reply as string[];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < items.length; i += 2) out[items[i]!] = items[i + 1]!;
  return out;
}

/** One redis-server in sentinel mode, with its configuration file (which it rewrites) in a directory of its own. */
class SentinelProcess {
  private proc?: ChildProcess;
  private readonly client: Redis;

  private constructor(
    readonly port: number,
    private readonly dir: string,
    password: string,
  ) {
    this.client = new Redis({ host: '127.0.0.1', port, password, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    this.client.on('error', () => {});
  }

  static async start(name: string, primaryPort: number, options: SentinelSetOptions): Promise<SentinelProcess> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'wxim-sentinel-'));
    const conf = join(dir, 'sentinel.conf');
    const quoted = (s: string) => JSON.stringify(s);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${quoted(dir)}`,
        `logfile ${quoted(join(dir, 'sentinel.log'))}`,
        `requirepass ${quoted(options.sentinelPassword)}`,
        // Sentinels ask each other for votes with the sentinels' password.
        `sentinel sentinel-pass ${quoted(options.sentinelPassword)}`,
        `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 2`,
        `sentinel auth-pass ${name} ${quoted(options.password)}`,
        // 2 s: a primary that a loaded machine stalls for a second (a fork for a replica's sync) is not failed over again.
        `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 2000}`,
        `sentinel failover-timeout ${name} 10000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    const sentinel = new SentinelProcess(port, dir, options.sentinelPassword);
    sentinel.proc = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    try {
      await waitForRedis(`redis://default:${encodeURIComponent(options.sentinelPassword)}@127.0.0.1:${port}`, 10_000);
    } catch (err) {
      await sentinel.close();
      throw err;
    }
    return sentinel;
  }

  /** What the sentinel has logged so far. */
  log(): string {
    try {
      return readFileSync(join(this.dir, 'sentinel.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async ask(...args: string[]): Promise<unknown> {
    return this.client.call('SENTINEL', ...args);
  }

  async close(): Promise<void> {
    this.client.disconnect();
    const p = this.proc;
    if (p !== undefined && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
