// Each Deployment's environment, as Kubernetes would give it (the ConfigMap and that service's own
// Secret, from the example overlay), started for real: with real values in place of the
// placeholders every service starts and becomes ready on what its own Secret holds; with the
// example settings' placeholders left in, it stops at once with exit 78 and the variable named.
import { join } from 'node:path';
import t from 'tap';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import { PORT_VARIABLE, freePort, runService, startTestRedis, testPrefix, whenReady } from '@wxim/testkit';
import { type K8sObject, renderExampleOverlay, root } from './kubernetes-render.js';

const objects = await renderExampleOverlay();
const deployments = objects.filter((o) => o.kind === 'Deployment') as unknown as (IDeployment & K8sObject)[];
const redis = await startTestRedis();
t.teardown(() => redis.close());

/** Real-looking values for what the example holds as placeholders. */
const REAL: Record<string, string> = {
  WECHAT_TOKEN: 'tokentoken',
  WECHAT_ENCODING_AES_KEY: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  WECHAT_APP_SECRET: '0123456789abcdef0123456789abcdef',
  IM_SECRET_KEY: 'k'.repeat(64),
  IM_CALLBACK_TOKEN: 'callbacktoken',
  DASHBOARD_USER: 'ops',
  DASHBOARD_PASSWORD: 'a long enough password',
};
const SETTINGS_REAL = { WECHAT_APP_ID: 'wx0123456789abcdef', IM_SDK_APP_ID: '1400000042', IM_AGENTS: 'agent_a,agent_b' };

/** What envFrom gives the pod: the ConfigMap's data, then its Secret's (each value decoded). */
function podEnvironment(d: IDeployment & K8sObject): { settings: Record<string, string>; secret: Record<string, string> } {
  const settings: Record<string, string> = {};
  const secret: Record<string, string> = {};
  for (const source of d.spec?.template.spec?.containers[0]?.envFrom ?? []) {
    const found = objects.find((o) => o.metadata.name === (source.configMapRef?.name ?? source.secretRef?.name));
    if (found === undefined) throw new Error(`${d.metadata.name}: ${JSON.stringify(source)} is not rendered`);
    if (found.kind === 'ConfigMap') Object.assign(settings, (found as unknown as IConfigMap).data);
    else for (const [k, v] of Object.entries((found as unknown as ISecret).data ?? {})) secret[k] = Buffer.from(v, 'base64').toString('utf8');
  }
  return { settings, secret };
}

/** The pod's environment on this machine: its own port, a Redis and prefix of the test's, platforms nowhere. */
async function start(d: IDeployment & K8sObject, replace: (env: Record<string, string>) => Record<string, string>) {
  const { settings, secret } = podEnvironment(d);
  const port = await freePort();
  const nowhere = `http://127.0.0.1:${await freePort()}`;
  const env = replace({ ...settings, ...secret });
  const proc = runService(join(root, String(d.spec?.template.spec?.containers[0]?.args?.[0])), {
    ...env,
    // In a pod (service links off or not) Kubernetes sets this.
    KUBERNETES_SERVICE_HOST: '10.96.0.1',
    ...(secret['REDIS_URL'] === undefined ? {} : { REDIS_URL: redis.url }),
    QUEUE_PREFIX: testPrefix(),
    IM_API_BASE: nowhere,
    WECHAT_API_BASE: nowhere,
    CALLBACK_SWEEP_MS: '0',
    LOG_LEVEL: 'silent',
    [PORT_VARIABLE[d.metadata.name]!]: String(port),
  });
  return { ...proc, port };
}

const withReal = (env: Record<string, string>) => ({
  ...env,
  ...SETTINGS_REAL,
  ...Object.fromEntries(Object.keys(env).flatMap((k) => (k in REAL ? [[k, REAL[k]!]] : []))),
});

t.test("each service starts and becomes ready on the ConfigMap and its own Secret's keys alone", async (t) => {
  t.same(deployments.map((d) => d.metadata.name).sort(), Object.keys(PORT_VARIABLE).sort());
  await Promise.all(
    deployments.map(async (d) => {
      const proc = await start(d, withReal);
      await whenReady(proc.port, proc.child, 60_000).catch((err: unknown) => {
        throw new Error(`${d.metadata.name}: ${String(err)}; stderr: ${proc.output().stderr}`);
      });
      proc.child.kill('SIGTERM');
      t.equal(await proc.exited, 0, `${d.metadata.name}: ready, and stopped cleanly`);
    }),
  );
});

t.test('media links and encryption-only turned on as the deploy says: every service still starts', async (t) => {
  // settings.properties gains MEDIA_PUBLIC_URL and WECHAT_REQUIRE_ENCRYPTION=1 (shared by every
  // service); the secrets they need go only where the example Secrets keep them: MEDIA_URL_SECRET
  // to the gateway and the im-worker, the AppSecret to the im-worker, the EncodingAESKey to the gateway.
  const SECRET_OF: Record<string, Record<string, string>> = {
    'wechat-gateway': { MEDIA_URL_SECRET: 'm'.repeat(40) },
    'im-worker': { MEDIA_URL_SECRET: 'm'.repeat(40), WECHAT_APP_SECRET: REAL['WECHAT_APP_SECRET']! },
  };
  await Promise.all(
    deployments.map(async (d) => {
      const proc = await start(d, (env) => ({
        ...withReal(env),
        MEDIA_PUBLIC_URL: 'https://relay.example.com',
        WECHAT_REQUIRE_ENCRYPTION: '1',
        ...SECRET_OF[d.metadata.name],
      }));
      await whenReady(proc.port, proc.child, 60_000).catch((err: unknown) => {
        throw new Error(`${d.metadata.name}: ${String(err)}; stderr: ${proc.output().stderr}`);
      });
      proc.child.kill('SIGTERM');
      t.equal(await proc.exited, 0, `${d.metadata.name}: ready, and stopped cleanly`);
    }),
  );
  // And where a secret is needed but left out, that service alone stops, naming it.
  for (const [name, missing] of [
    ['wechat-gateway', 'MEDIA_URL_SECRET'],
    ['im-worker', 'MEDIA_URL_SECRET'],
  ] as const) {
    const d = deployments.find((x) => x.metadata.name === name)!;
    const proc = await start(d, (env) => ({ ...withReal(env), MEDIA_PUBLIC_URL: 'https://relay.example.com', WECHAT_APP_SECRET: REAL['WECHAT_APP_SECRET']! }));
    const served = whenReady(proc.port, proc.child, 30_000).then(
      () => 'started',
      () => 'did not start',
    );
    t.equal(await Promise.race([proc.exited, served]), 78, `${name} without ${missing}: exit 78`);
    proc.child.kill('SIGTERM');
    t.match(proc.output().stderr, new RegExp(`^${name}: configuration error: ${missing} is missing: `), `${name}: ${missing} named`);
  }
});

t.test('a placeholder of settings.properties left in stops a service at start, exit 78, the variable named in one line', async (t) => {
  const worker = deployments.find((d) => d.metadata.name === 'im-worker')!;
  t.same(
    Object.keys(SETTINGS_REAL).map((k) => podEnvironment(worker).settings[k]),
    ['wxchangeme00000000', '1400000000', 'agent1,agent2'],
    'the example settings hold the three placeholders',
  );
  const order = Object.keys(SETTINGS_REAL);
  for (const [i, variable] of order.entries()) {
    // The placeholders before this one replaced: each is caught on its own.
    const fixed = Object.fromEntries(order.slice(0, i).map((k) => [k, SETTINGS_REAL[k as keyof typeof SETTINGS_REAL]]));
    const proc = await start(worker, (env) => ({
      ...env,
      ...Object.fromEntries(Object.keys(env).flatMap((k) => (k in REAL ? [[k, REAL[k]!]] : []))),
      ...fixed,
    }));
    const served = whenReady(proc.port, proc.child, 30_000).then(
      () => 'started',
      () => 'did not start',
    );
    t.equal(await Promise.race([proc.exited, served]), 78, `${variable}: exit 78`);
    proc.child.kill('SIGTERM');
    const { stderr } = proc.output();
    t.match(stderr, new RegExp(`^im-worker: configuration error: ${variable} is still the example placeholder: `), variable);
    t.equal(stderr.trim().split('\n').length, 1, 'one line');
  }
});
