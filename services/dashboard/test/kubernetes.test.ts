import { fileURLToPath } from 'node:url';
import { freePort, runService, startTestRedis, testPrefix, whenReady } from '@wxim/testkit';
import t from 'tap';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const redis = await startTestRedis();
t.teardown(() => redis.close());

async function start(env: Record<string, string>) {
  const port = await freePort();
  const proc = runService(main, { REDIS_URL: redis.url, QUEUE_PREFIX: testPrefix(), DASHBOARD_PORT: String(port), LOG_LEVEL: 'silent', ...env });
  return { ...proc, port };
}

t.test('in Kubernetes without DASHBOARD_PASSWORD the dashboard refuses to start with one line saying what to set, exit 78', async (t) => {
  const proc = await start({ KUBERNETES_SERVICE_HOST: '10.96.0.1' });
  // Before this check it started on loopback, where a pod's probes never reach it.
  const served = whenReady(proc.port, proc.child, 30_000).then(
    () => 'served on loopback',
    () => 'did not serve',
  );
  t.equal(await Promise.race([proc.exited, served]), 78);
  proc.child.kill('SIGTERM');
  const { stderr } = proc.output();
  t.match(
    stderr,
    /^dashboard: configuration error: DASHBOARD_PASSWORD is missing: in Kubernetes the dashboard needs one .*kubectl port-forward svc\/dashboard 3002\n$/,
  );
  t.equal(stderr.trim().split('\n').length, 1, 'one line');
});

t.test('in Kubernetes with a password it starts and serves its probes on every interface', async (t) => {
  const proc = await start({ KUBERNETES_SERVICE_HOST: '10.96.0.1', DASHBOARD_USER: 'ops', DASHBOARD_PASSWORD: 'a long enough password' });
  await whenReady(proc.port, proc.child, 30_000);
  proc.child.kill('SIGTERM');
  t.equal(await proc.exited, 0);
});

t.test('outside Kubernetes a dashboard without a password still starts, on loopback, read-only', async (t) => {
  const proc = await start({});
  await whenReady(proc.port, proc.child, 30_000);
  proc.child.kill('SIGTERM');
  t.equal(await proc.exited, 0);
});
