// What a Kustomize Component that hands every service a file from a ConfigMap must do to each
// Deployment (components/accounts, components/canned-replies): the ConfigMap as a volume, mounted
// read-only, the container still reading wxim-config (which names the file) and keeping its own
// mounts, and the Deployment still valid against Kubernetes's schema.
import type { Test } from 'tap';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import type { K8sObject } from './kubernetes-render.js';

export function checkMountedEverywhere(
  t: Test,
  deployments: readonly (IDeployment & K8sObject)[],
  configName: string,
  mount: { volume: string; configMap: string; mountPath: string },
): void {
  t.same(deployments.map((d) => d.metadata.name).sort(), ['dashboard', 'im-callback', 'im-worker', 'wechat-gateway', 'wechat-pusher']);
  for (const d of deployments) {
    const pod = d.spec!.template.spec!;
    const container = pod.containers[0]!;
    t.same(pod.volumes?.find((v) => v.name === mount.volume)?.configMap, { name: mount.configMap }, `${d.metadata.name}: the ConfigMap as a volume`);
    t.same(
      container.volumeMounts?.find((m) => m.name === mount.volume),
      { name: mount.volume, mountPath: mount.mountPath, readOnly: true },
      `${d.metadata.name}: mounted read-only`,
    );
    t.ok(
      container.envFrom?.some((e) => e.configMapRef?.name === configName),
      `${d.metadata.name}: reads wxim-config, which names the file`,
    );
    t.ok(
      container.volumeMounts?.some((m) => m.name === 'tmp'),
      `${d.metadata.name}: its own mounts kept`,
    );
    t.doesNotThrow(() => new Deployment(d).validate(), `${d.metadata.name} is valid against the Kubernetes schema`);
  }
}
