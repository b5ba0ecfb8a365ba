import { existsSync, readFileSync } from 'node:fs';
import t from 'tap';
import { parse } from 'yaml';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

interface ComposeService {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  restart?: string;
  env_file?: { path: string; required: boolean }[];
}

/** The compose file as Compose sees it: YAML anchors and merge keys resolved. */
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };
const FIVE = { 'wechat-gateway': 3000, 'im-callback': 3001, dashboard: 3002, 'im-worker': 9101, 'wechat-pusher': 9102 } as const;

t.test('Redis keeps every acknowledged push: AOF fsync always, noeviction, a volume, a health check', async (t) => {
  const redis = compose.services['redis']!;
  const args = redis.command!.join(' ');
  t.match(args, /--appendonly yes/);
  t.match(args, /--appendfsync always/);
  t.match(args, /--maxmemory-policy noeviction/);
  t.ok(redis.volumes?.some((v) => v.startsWith('redis-data:/data')) && 'redis-data' in compose.volumes, 'its data on a named volume');
  t.same(redis.healthcheck?.test, ['CMD', 'redis-cli', 'ping']);
});

t.test('each of the five services runs in a container of its own from the one image, with its health check', async (t) => {
  for (const [name, port] of Object.entries(FIVE)) {
    const service = compose.services[name];
    t.ok(service, `${name} is there`);
    if (service === undefined) continue;
    t.equal(service.image, 'wechat-im-relay', `${name}: the one image`);
    t.same(service.command, [`services/${name}/dist/main.js`], `${name}: the command picks it`);
    t.ok(existsSync(new URL(`services/${name}/src/main.ts`, root)), `${name}: that entry point exists`);
    t.same(service.healthcheck?.test, ['CMD', 'node', 'launcher/dist/healthcheck.js', String(port)], `${name}: healthy when /readyz on its port says so`);
    t.equal(service.depends_on?.['redis']?.condition, 'service_healthy', `${name}: starts once Redis is healthy`);
    t.equal(service.environment?.['REDIS_URL'], 'redis://redis:6379', `${name}: the compose Redis`);
    t.equal(service.environment?.['SANDBOX_HOST'], 'sandbox', `${name}: finds the sandbox by name in sandbox mode`);
    // In sandbox mode the gateway and im-callback listen on LOCAL_BIND: on a container's loopback the sandbox could not reach them.
    t.equal(service.environment?.['LOCAL_BIND'], '0.0.0.0', `${name}: listens on the container network whatever binds LOCAL_BIND`);
    t.same(service.env_file, [{ path: '.env', required: false }], `${name}: reads .env when there is one`);
    t.equal(service.restart, 'unless-stopped', `${name}: restarted when it stops`);
    t.ok(
      service.ports?.some((p) => p.endsWith(`:${port}`)),
      `${name}: its port ${port} published`,
    );
  }
  const commands = Object.values(compose.services).map((s) => s.command?.join(' '));
  t.notOk(commands.includes('launcher/dist/main.js'), 'no all-in-one container');
});

t.test('with an empty .env the sandbox container plays both platforms and serves the page on the host loopback', async (t) => {
  const sandbox = compose.services['sandbox']!;
  t.same(sandbox.command, ['launcher/dist/sandbox.js']);
  t.ok(existsSync(new URL('launcher/src/sandbox.ts', root)), 'that entry point exists');
  t.equal(sandbox.image, 'wechat-im-relay');
  t.same(sandbox.ports, ['127.0.0.1:3003:3003'], 'the page, on the host loopback only (no password)');
  t.equal(sandbox.environment?.['LOCAL_BIND'], '0.0.0.0', 'listening on the container network so the services and the host can reach it');
  t.equal(sandbox.environment?.['SANDBOX_GATEWAY_URL'], 'http://wechat-gateway:3000');
  t.equal(sandbox.environment?.['SANDBOX_CALLBACK_URL'], 'http://im-callback:3001/im/callback');
  t.equal(sandbox.restart, 'no', 'with credentials it exits 0: nothing to restart');
  t.same(sandbox.healthcheck?.test, ['CMD', 'node', 'launcher/dist/healthcheck.js', '3003', '/healthz']);
  t.ok(existsSync(new URL('launcher/src/healthcheck.ts', root)), 'the health check script exists');
});

t.test('every port is published on the host loopback only: the platforms come through a TLS proxy on 80 or 443', async (t) => {
  for (const name of [...Object.keys(FIVE), 'sandbox']) {
    t.ok(
      compose.services[name]!.ports!.every((p) => p.startsWith('127.0.0.1:')),
      name,
    );
  }
  t.equal(compose.services['dashboard']!.environment?.['LOCAL_BIND'], '0.0.0.0', 'the password-less dashboard listens on the container network');
});

t.test('.env.example is tracked and empty of values, so `cp .env.example .env` keeps sandbox mode', async (t) => {
  const values = read('.env.example')
    .split('\n')
    .filter((line) => /^[A-Z][A-Z0-9_]*=/.test(line))
    .map((line) => line.slice(line.indexOf('=') + 1));
  t.ok(values.length > 30);
  t.same(
    values.filter((v) => v !== ''),
    [],
  );
});
