// The canned-replies component (deploy/k8s/components/canned-replies) as `kubectl kustomize` renders
// it from the example overlay: every Deployment reads CANNED_REPLIES from the ConfigMap
// wxim-canned-replies (every service checks the file at start), and nothing else changes.
import t from 'tap';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { type K8sObject, renderExampleOverlay } from './kubernetes-render.js';

const example = await renderExampleOverlay();
const withReplies = await renderExampleOverlay(['canned-replies']);
const deployments = withReplies.filter((o) => o.kind === 'Deployment') as unknown as (IDeployment & K8sObject)[];

const configOf = (list: K8sObject[]) =>
  list.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('wxim-config')) as unknown as K8sObject & { data: Record<string, string> };

t.test('every Deployment mounts the canned replies read-only, and CANNED_REPLIES names the file', async (t) => {
  t.same(
    configOf(withReplies).data,
    { ...configOf(example).data, CANNED_REPLIES: '/etc/wxim/canned-replies/canned-replies.yaml' },
    'wxim-config: CANNED_REPLIES added, the rest kept',
  );
  t.same(deployments.map((d) => d.metadata.name).sort(), ['dashboard', 'im-callback', 'im-worker', 'wechat-gateway', 'wechat-pusher']);
  for (const d of deployments) {
    const pod = d.spec!.template.spec!;
    const container = pod.containers[0]!;
    t.same(pod.volumes?.find((v) => v.name === 'canned-replies')?.configMap, { name: 'wxim-canned-replies' }, `${d.metadata.name}: the ConfigMap as a volume`);
    t.same(
      container.volumeMounts?.find((m) => m.name === 'canned-replies'),
      { name: 'canned-replies', mountPath: '/etc/wxim/canned-replies', readOnly: true },
      `${d.metadata.name}: mounted read-only`,
    );
    t.ok(
      container.envFrom?.some((e) => e.configMapRef?.name === configOf(withReplies).metadata.name),
      `${d.metadata.name}: reads wxim-config, which sets CANNED_REPLIES`,
    );
    t.doesNotThrow(() => new Deployment(d).validate(), `${d.metadata.name} is valid against the Kubernetes schema`);
  }
  const key = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
  const unchanged = (o: K8sObject) => o.kind !== 'Deployment' && !o.metadata.name.startsWith('wxim-config');
  t.same(withReplies.filter(unchanged).map(key), example.filter(unchanged).map(key), 'no object added or removed');
  t.same(withReplies.filter(unchanged), example.filter(unchanged), 'every other object as it was');
});
