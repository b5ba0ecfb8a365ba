import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { type ServiceProcess, eventually } from '@wxim/testkit';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LAUNCHER = join(ROOT, 'cli/dist/main.js');
const PUSH = join(ROOT, 'cli/dist/push.js');
const run = promisify(execFile);

/**
 * A fresh machine, as far as the relay can tell: `npm start` in a network namespace of its own,
 * where nothing listens at Redis's default address (this machine's Redis does, outside), and a
 * mount namespace where the project's `.data` folder is a temporary one (a developer's own private
 * Redis data is never touched). Unprivileged: a user namespace maps the test's user to root.
 */
function freshMachine(dataDir: string, path = process.env['PATH'] ?? '', before = ''): ServiceProcess {
  mkdirSync(join(ROOT, '.data'), { recursive: true }); // the mount point; git ignores it
  // The launcher (and what it starts) gets `path` as its PATH; `before` runs first, in the namespaces.
  const script = `ip link set lo up && mount --bind "$1" "$2" && ${before} exec env PATH="$3" "$4" "$5"`;
  const child = spawn(
    'unshare',
    ['--user', '--map-root-user', '--net', '--mount', 'sh', '-c', script, 'sh', dataDir, join(ROOT, '.data'), path, process.execPath, LAUNCHER],
    {
      env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

/** Runs a command in the namespaces of the relay `pid`: its network, where its services listen. */
async function inside(pid: number, command: string[]): Promise<string> {
  const { stdout } = await run('nsenter', ['--target', String(pid), '--user', '--net', '--preserve-credentials', ...command], { timeout: 60_000 });
  return stdout;
}

async function started(relay: ServiceProcess): Promise<void> {
  await eventually(
    'the relay has started',
    () => {
      if (relay.child.exitCode !== null) throw new Error(`the relay exited with ${relay.child.exitCode}: ${relay.output().stderr}`);
      return relay.output().stdout.includes('npm run sandbox:reply');
    },
    60_000,
    50,
  );
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('npm start with no Redis at the default address runs one of its own, keeps its data, and stops it with the relay', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'wxim-fresh-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));

  const first = freshMachine(data);
  t.teardown(() => first.child.kill('SIGKILL'));
  await started(first);
  const said = first.output().stdout.split('\n')[0] ?? '';
  t.match(said, /REDIS_URL is not set and nothing answered at 127\.0\.0\.1:6379: started a Redis of its own there/, 'it says so in one line');
  t.match(said, new RegExp(`data in ${join(ROOT, '.data/redis').replaceAll('/', '\\/')}`), 'naming where its data is');
  t.match(said, /To use your own Redis, set REDIS_URL/, 'and how to use another');
  t.ok(existsSync(join(data, 'redis', 'appendonlydir')), 'its data folder is made, with an AOF');
  const redisPid = Number(readFileSync(join(data, 'redis', 'redis.pid'), 'utf8'));
  t.ok(alive(redisPid), 'the private Redis runs');

  const pushed = await inside(first.child.pid!, [process.execPath, PUSH, 'hello from a fresh machine']);
  t.match(pushed, /agent agent\d received it in IM/, 'a push through the sandbox reaches an agent');

  first.child.kill('SIGTERM');
  t.equal(await first.exited, 0, 'SIGTERM ends the relay cleanly');
  t.notOk(alive(redisPid), 'and its Redis with it');
  t.notOk(existsSync(join(data, 'redis', 'redis.pid')), 'which shut down as Redis does (its pid file removed)');

  // The next start replays the AOF: the customer and the relayed message are still known.
  const second = freshMachine(data);
  t.teardown(() => second.child.kill('SIGKILL'));
  await started(second);
  const keys = Number(await inside(second.child.pid!, ['redis-cli', '-p', '6379', 'DBSIZE']));
  t.ok(keys > 0, `the data is kept between runs (${keys} keys after the restart)`);

  // A relay that dies without a word (SIGKILL) takes its Redis with it too.
  const secondRedis = Number(readFileSync(join(data, 'redis', 'redis.pid'), 'utf8'));
  second.child.kill('SIGKILL');
  await second.exited;
  await eventually('the private Redis of a killed relay has stopped', () => !alive(secondRedis), 15_000, 50);
  t.pass('a killed relay leaves no Redis behind');
});

t.test('npm start with no Redis and no redis-server says how to get one and exits 78', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'wxim-fresh-'));
  const bin = mkdtempSync(join(tmpdir(), 'wxim-bin-'));
  t.teardown(() => {
    rmSync(data, { recursive: true, force: true });
    rmSync(bin, { recursive: true, force: true });
  });
  symlinkSync(process.execPath, join(bin, 'node'));
  const relay = freshMachine(data, bin);
  t.teardown(() => relay.child.kill('SIGKILL'));
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([relay.exited, new Promise<'running'>((r) => (timer = setTimeout(() => r('running'), 30_000)))]);
  clearTimeout(timer);
  const { stdout, stderr } = relay.output();
  t.equal(code, 78, 'a configuration error (EX_CONFIG)');
  t.equal(stderr.trim().split('\n').length, 1, `one line: ${stderr.trim()}`);
  t.match(stderr, /^relay: configuration error: REDIS_URL is not set, nothing answers at 127\.0\.0\.1:6379 and there is no redis-server on PATH/);
  for (const way of ['set REDIS_URL', 'apt-get install redis-server', 'brew install redis', 'docker compose up'])
    t.match(stderr, way, `it names a way: ${way}`);
  t.equal(stdout, '', 'nothing else');
  t.same(readdirSync(data), [], 'and it made no data folder');
});

t.test('npm start with something that is not Redis at the default address says so and exits 78', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'wxim-fresh-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  // A web server where Redis would be: it answers, but not as Redis does. It ends with the relay
  // (its parent, once the shell execs the launcher).
  const listener = `"${process.execPath}" -e "require('net').createServer((s) => s.end('HTTP/1.1 400 Bad Request\\r\\n\\r\\n')).listen(6379, '127.0.0.1'); const p = process.ppid; setInterval(() => { try { process.kill(p, 0) } catch { process.exit() } }, 100)" >/dev/null 2>&1 & until [ -n "$(ss -ltnH 'sport = 6379')" ]; do sleep 0.05; done;`;
  const relay = freshMachine(data, process.env['PATH'] ?? '', listener);
  t.teardown(() => relay.child.kill('SIGKILL'));
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([relay.exited, new Promise<'running'>((r) => (timer = setTimeout(() => r('running'), 30_000)))]);
  clearTimeout(timer);
  const { stderr } = relay.output();
  t.equal(code, 78, 'a configuration error (EX_CONFIG)');
  t.equal(stderr.trim().split('\n').length, 1, `one line: ${stderr.trim()}`);
  t.match(stderr, /^relay: configuration error: REDIS_URL is not set, and what listens at 127\.0\.0\.1:6379 is not a Redis that answers PING/);
  t.same(readdirSync(data), [], 'and it started no Redis of its own');
});
