// The accounts component (deploy/k8s/components/accounts) as `kubectl kustomize` renders it from the
// example overlay: every Deployment reads the accounts file from the ConfigMap wxim-accounts, the
// Ingress routes /wechat/<account> and /im/callback/<account>, and nothing else changes.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { parse } from 'yaml';
import { type K8sObject, renderExampleOverlay, root } from './kubernetes-render.js';
import { checkMountedEverywhere } from './component-mounts.js';

const example = await renderExampleOverlay();
const withAccounts = await renderExampleOverlay(['accounts']);
const deployments = withAccounts.filter((o) => o.kind === 'Deployment') as unknown as (IDeployment & K8sObject)[];

const configOf = (list: K8sObject[]) =>
  list.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('wxim-config')) as unknown as K8sObject & { data: Record<string, string> };
const configName = configOf(withAccounts).metadata.name;

t.test('a Kustomize Component that every Deployment takes: the file mounted read-only, ACCOUNTS_FILE naming it', async (t) => {
  t.same(
    configOf(withAccounts).data,
    { ...configOf(example).data, ACCOUNTS_FILE: '/etc/wxim/accounts/accounts.yaml' },
    'wxim-config: ACCOUNTS_FILE added, the rest kept',
  );
  const component = parse(await readFile(join(root, 'deploy/k8s/components/accounts/kustomization.yaml'), 'utf8')) as { apiVersion: string; kind: string };
  t.same([component.apiVersion, component.kind], ['kustomize.config.k8s.io/v1alpha1', 'Component']);
  checkMountedEverywhere(t, deployments, configName, { volume: 'accounts', configMap: 'wxim-accounts', mountPath: '/etc/wxim/accounts' });
});

t.test('the Ingress routes /wechat/<account> to the gateway; nothing else changes', async (t) => {
  const pathsOf = (list: K8sObject[]) => (list.find((o) => o.kind === 'Ingress') as unknown as IIngress).spec!.rules![0]!.http!.paths;
  const before = pathsOf(example);
  const after = pathsOf(withAccounts);
  t.same(after.slice(0, before.length), before, 'every route kept');
  t.same(
    after.slice(before.length),
    [
      { path: '/wechat/', pathType: 'Prefix', backend: { service: { name: 'wechat-gateway', port: { number: 3000 } } } },
      { path: '/im/callback/', pathType: 'Prefix', backend: { service: { name: 'im-callback', port: { number: 3001 } } } },
    ],
    'the two account paths added',
  );
  const key = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
  // The Deployments (the mount; wxim-config's new name, a hash of its contents) and wxim-config itself change.
  const unchanged = (o: K8sObject) => o.kind !== 'Deployment' && o.kind !== 'Ingress' && !o.metadata.name.startsWith('wxim-config');
  t.same(withAccounts.filter(unchanged).map(key), example.filter(unchanged).map(key), 'no object added or removed');
  t.same(withAccounts.filter(unchanged), example.filter(unchanged), 'every other object as it was');
});
