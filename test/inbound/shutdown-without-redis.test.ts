import { fileURLToPath } from 'node:url';
import { dashboardService } from '@wxim/dashboard';
import { imCallbackService } from '@wxim/im-callback';
import { imWorkerService } from '@wxim/im-worker';
import type { ServiceDefinition } from '@wxim/host';
import { wechatGatewayService } from '@wxim/wechat-gateway';
import { wechatPusherService } from '@wxim/wechat-pusher';
import t from 'tap';
import { request } from 'undici';
import { LocalRedis, PORT_VARIABLE, type ServiceProcess, eventually, freePort, freePortRun, launchRelay, runService, whenReady } from '@wxim/testkit';

const entry = (name: string) => fileURLToPath(new URL(`../../services/${name}/dist/main.js`, import.meta.url));
const SERVICES: ServiceDefinition[] = [wechatGatewayService, imCallbackService, dashboardService, imWorkerService, wechatPusherService];
/** With Redis gone and nothing in flight there is nothing to finish or hand back: a stop takes moments, not the grace period. */
const PROMPT_MS = 5000;

interface Running {
  definition: ServiceDefinition;
  port: number;
  proc: ServiceProcess;
}

/** `proc`'s exit code, or `'running'` if it has not exited within `ms`. */
async function exitWithin(proc: ServiceProcess, ms: number): Promise<number | null | 'running'> {
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([proc.exited, new Promise<'running'>((r) => (timer = setTimeout(() => r('running'), ms)))]);
  clearTimeout(timer);
  return code;
}

const readyz = async (port: number) => {
  const res = await request(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
  await res?.body.dump();
  return res?.statusCode;
};

/** Each service in a process of its own (sandbox mode: no credential needed), against `redis`. */
async function startEach(redis: LocalRedis): Promise<Running[]> {
  const running: Running[] = [];
  for (const definition of SERVICES) {
    const port = await freePort();
    const env = {
      REDIS_URL: redis.url,
      SANDBOX: '1',
      SANDBOX_PORT: String(await freePortRun(3)),
      [PORT_VARIABLE[definition.name]!]: String(port),
      LOG_LEVEL: 'info',
    };
    running.push({ definition, port, proc: runService(entry(definition.name), env) });
  }
  for (const { port, proc } of running) await whenReady(port, proc.child, 60_000);
  return running;
}

/** `proc`'s log lines that match `msg`, from the `from`th character of its output on. */
const lines = (proc: ServiceProcess, msg: RegExp, from = 0) =>
  proc
    .output()
    .stdout.slice(from)
    .split('\n')
    .filter((l) => msg.test(l));

t.test('a Redis outage is logged once by each worker (per account), and once when Redis is back', async (t) => {
  const redis = await LocalRedis.start();
  t.teardown(() => redis.close());
  const running = await startEach(redis);
  t.teardown(() => running.forEach(({ proc }) => proc.child.kill('SIGKILL')));
  const workers = running.filter((r) => r.definition.kind === 'worker');

  const before = new Map(workers.map(({ proc }) => [proc, proc.output().stdout.length]));
  await redis.stop();
  for (const { port } of running) await eventually(`the service on ${port} is unready`, async () => (await readyz(port)) === 503, 30_000);
  // BullMQ fails a fetch about once a second while Redis is away: watch a few seconds' worth.
  await new Promise((r) => setTimeout(r, 5000));
  // Sandbox mode runs its two accounts (default and second), each with workers of its own in the
  // process: each account's says it once, second's naming its account.
  for (const { definition, proc } of workers) {
    const said = lines(proc, /Redis unreachable/);
    t.equal(said.length, 2, `${definition.name} says Redis is unreachable once per account`);
    t.equal(said.filter((l) => l.includes('"account":"second"')).length, 1, "one of them second's");
    const warned = lines(proc, /"level":[456]0/, before.get(proc)).filter((l) => !l.includes('sandbox mode'));
    t.equal(warned.length, 2, `${definition.name} logs nothing else at warn or above meanwhile`, { warned });
  }

  await redis.start();
  for (const { definition, proc, port } of workers) {
    await eventually(`${definition.name} says Redis is back`, () => lines(proc, /Redis answers again/).length === 2, 30_000);
    await whenReady(port, proc.child, 30_000);
  }
  t.pass('each worker says once per account that Redis answers again, and is ready');
});

t.test('SIGTERM while Redis is unreachable ends each service at once, cleanly', async (t) => {
  const redis = await LocalRedis.start();
  t.teardown(() => redis.close());
  const running = await startEach(redis);
  t.teardown(() => running.forEach(({ proc }) => proc.child.kill('SIGKILL')));
  await redis.stop();
  for (const { port } of running) await eventually(`the service on ${port} is unready`, async () => (await readyz(port)) === 503, 30_000);

  const stops = running.map(async ({ definition, proc }) => {
    const from = Date.now();
    proc.child.kill('SIGTERM');
    const code = await exitWithin(proc, definition.shutdownMs + 5000);
    return { definition, code, ms: Date.now() - from };
  });
  for (const { definition, code, ms } of await Promise.all(stops)) {
    t.equal(code, 0, `${definition.name} exits cleanly`);
    t.ok(ms < definition.shutdownMs, `${definition.name} within its grace period (${ms} ms of ${definition.shutdownMs})`);
    t.ok(ms < PROMPT_MS, `${definition.name} without waiting for Redis (${ms} ms)`);
  }
});

t.test('SIGTERM to npm start while Redis is unreachable ends it at once, cleanly', async (t) => {
  const redis = await LocalRedis.start();
  t.teardown(() => redis.close());
  const relay = await launchRelay({ REDIS_URL: redis.url });
  t.teardown(() => relay.child.kill('SIGKILL'));
  await whenReady(relay.ports.imWorker, relay.child, 60_000);
  await redis.stop();
  await eventually('the relay is unready', async () => (await readyz(relay.ports.imWorker)) === 503, 30_000);
  const from = Date.now();
  relay.child.kill('SIGTERM');
  const longest = Math.max(...SERVICES.map((s) => s.shutdownMs));
  const code = await exitWithin(relay, 2 * longest);
  const ms = Date.now() - from;
  t.equal(code, 0, 'it exits cleanly');
  t.ok(ms < 2 * PROMPT_MS, `without waiting for Redis (${ms} ms)`);
});
