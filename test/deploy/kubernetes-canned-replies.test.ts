// The canned-replies component (deploy/k8s/components/canned-replies) as `kubectl kustomize` renders
// it from the example overlay: every Deployment reads CANNED_REPLIES from the ConfigMap
// wxim-canned-replies (every service checks the file at start), and nothing else changes.
import t from 'tap';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { type K8sObject, renderExampleOverlay } from './kubernetes-render.js';
import { checkMountedEverywhere } from './component-mounts.js';

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
  checkMountedEverywhere(t, deployments, configOf(withReplies).metadata.name, {
    volume: 'canned-replies',
    configMap: 'wxim-canned-replies',
    mountPath: '/etc/wxim/canned-replies',
  });
  const key = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
  const unchanged = (o: K8sObject) => o.kind !== 'Deployment' && !o.metadata.name.startsWith('wxim-config');
  t.same(withReplies.filter(unchanged).map(key), example.filter(unchanged).map(key), 'no object added or removed');
  t.same(withReplies.filter(unchanged), example.filter(unchanged), 'every other object as it was');
});
