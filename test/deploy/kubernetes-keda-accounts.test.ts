// `npm run keda:accounts`: the Kustomize Component that makes both workers scale on every account's
// backlog, rendered with the example overlay and the accounts component as an operator enables them.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { writeAccountsFile } from '@wxim/testkit';
import { type K8sObject, renderBase, renderExampleOverlay } from './kubernetes-render.js';

const cli = fileURLToPath(new URL('../../cli/dist/keda-accounts.js', import.meta.url));
interface Trigger {
  type: string;
  metadata: Record<string, string>;
  authenticationRef: { name: string };
}
type ScaledObject = K8sObject & { spec: { triggers: Trigger[] } };

const account = (id: string, n: number) => ({
  id,
  wechat: { appId: `wx0123456789abcde${n}`, token: `token${n}${n}${n}`, appSecret: '${APP_SECRET}' },
  im: { sdkAppId: 1400000000 + n, secretKey: '${IM_KEY}', agents: ['alice'], callbackToken: '${CALLBACK_TOKEN}' },
});
const file = writeAccountsFile([account('default', 1), account('brand-a', 2), account('brand-b', 3)]);

/** The component as the CLI prints it from the deployment's settings (no secret needed). */
async function made(env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [cli], { env: { PATH: process.env['PATH'] ?? '', ACCOUNTS_FILE: file, ...env } });
  return stdout;
}
const scaledObjects = (list: K8sObject[]) => new Map(list.filter((o) => o.kind === 'ScaledObject').map((o) => [o.metadata.name, o as ScaledObject]));

t.test("with the component, each worker's ScaledObject has a trigger per account, like the base's for default", async (t) => {
  const base = scaledObjects(await renderBase());
  const rendered = scaledObjects(await renderExampleOverlay(['accounts'], { 'keda-accounts': await made() }));
  for (const [name, queue] of [
    ['im-worker', 'wechat-inbound'],
    ['wechat-pusher', 'agent-replies'],
  ] as const) {
    const [own] = base.get(name)!.spec.triggers;
    const triggers = rendered.get(name)!.spec.triggers;
    t.same(
      triggers.map((tr) => tr.metadata['listName']),
      [`wxim:${queue}:wait`, `wxim/brand-a:${queue}:wait`, `wxim/brand-b:${queue}:wait`],
      `${name}: default's queue (the base's trigger), then each other account's`,
    );
    for (const tr of triggers.slice(1))
      t.same(
        tr,
        { ...own, metadata: { ...own!.metadata, listName: tr.metadata['listName'] } },
        `${name}: ${tr.metadata['listName']} as the base's trigger, its length target too`,
      );
  }
});

t.test('the kind of trigger follows the Redis the relay uses: TLS, a cluster (hash-tagged prefix), sentinels', async (t) => {
  t.match(await made({ REDIS_URL: 'rediss://redis.example:6380' }), /listName: wxim\/brand-a:wechat-inbound:wait\n\s+listLength: "500"\n\s+enableTLS: "true"/);
  const cluster = await made({ REDIS_CLUSTER: '1', QUEUE_PREFIX: 'relay' });
  t.match(cluster, /type: redis-cluster\n\s+metadata:\n\s+listName: "\{relay\}\/brand-a:wechat-inbound:wait"/);
  const sentinel = await made({ REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_NAME: 'mymaster' });
  t.match(sentinel, /type: redis-sentinel\n\s+metadata:\n\s+listName: wxim\/brand-b:agent-replies:wait\n\s+listLength: "200"\n\s+sentinelMaster: mymaster/);
  t.match(sentinel, /authenticationRef:\n\s+name: wxim-redis-sentinel/);
});

t.test('without ACCOUNTS_FILE: one clear line, nothing printed', async (t) => {
  const run = await promisify(execFile)(process.execPath, [cli], { env: { PATH: process.env['PATH'] ?? '' } }).then(
    () => undefined,
    (err: { code: number; stdout: string; stderr: string }) => err,
  );
  t.equal(run?.code, 78);
  t.equal(run?.stdout, '');
  t.equal(run?.stderr, 'keda:accounts: configuration error: ACCOUNTS_FILE is not set: the accounts file whose accounts the workers should scale on\n');
});
