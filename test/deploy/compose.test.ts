import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dashboardService } from '@wxim/dashboard';
import { imCallbackService } from '@wxim/im-callback';
import { imWorkerService } from '@wxim/im-worker';
import { wechatGatewayService } from '@wxim/wechat-gateway';
import { wechatPusherService } from '@wxim/wechat-pusher';
import { Ajv } from 'ajv';
import t from 'tap';
import { durationMs, readCompose } from './compose-file.js';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

const compose = readCompose();
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
    t.same(service.healthcheck?.test, ['CMD', 'node', 'cli/dist/healthcheck.js', String(port)], `${name}: healthy when /readyz on its port says so`);
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
  t.notOk(commands.includes('cli/dist/main.js'), 'no all-in-one container');
});

t.test('with an empty .env the sandbox container plays both platforms and serves the page on the host loopback', async (t) => {
  const sandbox = compose.services['sandbox']!;
  t.same(sandbox.command, ['cli/dist/sandbox.js']);
  t.ok(existsSync(new URL('cli/src/sandbox.ts', root)), 'that entry point exists');
  t.equal(sandbox.image, 'wechat-im-relay');
  t.same(sandbox.ports, ['127.0.0.1:3003:3003'], 'the page, on the host loopback only (no password)');
  t.equal(sandbox.environment?.['LOCAL_BIND'], '0.0.0.0', 'listening on the container network so the services and the host can reach it');
  t.equal(sandbox.environment?.['SANDBOX_GATEWAY_URL'], 'http://wechat-gateway:3000');
  t.equal(sandbox.environment?.['SANDBOX_CALLBACK_URL'], 'http://im-callback:3001/im/callback');
  t.equal(sandbox.restart, 'no', 'with credentials it exits 0: nothing to restart');
  t.same(sandbox.healthcheck?.test, ['CMD', 'node', 'cli/dist/healthcheck.js', '3003', '/healthz']);
  t.ok(existsSync(new URL('cli/src/healthcheck.ts', root)), 'the health check script exists');
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

/** The Compose Specification's JSON schema, as the dclint package ships it (its exports hide the file). */
function composeSchema(): Record<string, unknown> {
  const pkg = createRequire(import.meta.url).resolve('dclint/package.json');
  const schema = JSON.parse(readFileSync(join(dirname(pkg), 'schemas/compose.schema.json'), 'utf8')) as Record<string, unknown>;
  // Ajv knows draft-07 by its http:// name only; the schema itself is plain draft-07.
  delete schema['$schema'];
  return schema;
}

t.test("docker-compose.yml is valid against the Compose Specification's JSON schema", async (t) => {
  const validate = new Ajv({ allErrors: true, strict: false }).compile(composeSchema());
  t.ok(validate(compose), `valid: ${JSON.stringify(validate.errors ?? [])}`);
  // The schema does reject what Compose would: a grace period as a bare number, a key of no service.
  const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
  broken.services['im-worker']!['stop_grace_period'] = 40;
  broken.services['redis']!['restart_policy'] = 'always';
  t.notOk(validate(broken), 'a broken copy is refused');
  t.same((validate.errors ?? []).map((e) => e.instancePath).sort(), ['/services/im-worker/stop_grace_period', '/services/redis'], 'naming both faults');
});

t.test("Docker waits longer than each service's own shutdown before it kills it: a worker's hand-back is never cut", async (t) => {
  const definitions = [wechatGatewayService, imCallbackService, dashboardService, imWorkerService, wechatPusherService];
  t.same(definitions.map((d) => d.name).sort(), Object.keys(FIVE).sort(), 'the five services');
  for (const definition of definitions) {
    const grace = compose.services[definition.name]?.stop_grace_period;
    t.ok(grace !== undefined, `${definition.name}: a stop_grace_period`);
    // Room for the exit itself after the timed shutdown: a second at least.
    t.ok(durationMs(grace) >= definition.shutdownMs + 1000, `${definition.name}: ${grace} is above its shutdown time of ${definition.shutdownMs / 1000} s`);
  }
});

t.test('Redis in compose has a memory limit and refuses writes when full rather than evicting jobs', async (t) => {
  const args = compose.services['redis']!.command!;
  const at = args.indexOf('--maxmemory');
  t.ok(at >= 0, '--maxmemory is set');
  const size = /^(\d+)(kb|mb|gb)$/i.exec(args[at + 1] ?? '');
  t.ok(size !== null && Number(size[1]) > 0, `a size Redis reads (${args[at + 1]})`);
  t.equal(args[args.indexOf('--maxmemory-policy') + 1], 'noeviction');
});
