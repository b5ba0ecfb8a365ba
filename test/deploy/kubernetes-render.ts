// The Kubernetes manifests as `kubectl kustomize` renders them (offline): the base (deploy/k8s), and
// the example overlay (deploy/k8s-example: the base, the monitoring component and the Secrets made
// from its *.env.example files, as an operator makes them from their filled-in copies), optionally
// with more of deploy/k8s/components enabled.
import { execFile } from 'node:child_process';
import { copyFile, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse, parseAllDocuments, stringify } from 'yaml';

export const root = fileURLToPath(new URL('../..', import.meta.url));

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
}

function isK8sObject(value: unknown): value is K8sObject {
  if (typeof value !== 'object' || value === null) return false;
  const { apiVersion, kind, metadata } = value as Record<string, unknown>;
  return typeof apiVersion === 'string' && typeof kind === 'string' && typeof metadata === 'object' && metadata !== null && 'name' in metadata;
}

export async function kustomize(dir: string): Promise<K8sObject[]> {
  const rendered = await promisify(execFile)('kubectl', ['kustomize', dir], { maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(rendered.stdout).flatMap((doc) => {
    if (!('errors' in doc) || doc.errors.length > 0) throw new Error(`kubectl kustomize printed YAML that does not parse: ${String(doc)}`);
    const value: unknown = doc.toJS();
    if (value === null) return [];
    if (!isK8sObject(value)) throw new Error(`not a Kubernetes object: ${JSON.stringify(value)}`);
    return [value];
  });
}

export const renderBase = (): Promise<K8sObject[]> => kustomize(join(root, 'deploy/k8s'));

/**
 * The example overlay, rendered from a copy whose <name>.env files are its <name>.env.example files;
 * `components` (names under deploy/k8s/components) are added to the copy's, as an operator enables
 * one, and then `own`: components of the overlay's own (a directory name → its kustomization.yaml).
 */
export async function renderExampleOverlay(components: readonly string[] = [], own: Readonly<Record<string, string>> = {}): Promise<K8sObject[]> {
  const dir = await mkdtemp(join(tmpdir(), 'wxim-k8s-'));
  try {
    await cp(join(root, 'deploy/k8s'), join(dir, 'k8s'), { recursive: true });
    await cp(join(root, 'deploy/k8s-example'), join(dir, 'k8s-example'), { recursive: true });
    for (const file of await readdir(join(dir, 'k8s-example')))
      if (file.endsWith('.env.example')) await copyFile(join(dir, 'k8s-example', file), join(dir, 'k8s-example', file.replace(/\.example$/, '')));
    for (const [name, text] of Object.entries(own)) {
      await mkdir(join(dir, 'k8s-example', name));
      await writeFile(join(dir, 'k8s-example', name, 'kustomization.yaml'), text);
    }
    if (components.length > 0 || Object.keys(own).length > 0) {
      const file = join(dir, 'k8s-example', 'kustomization.yaml');
      const kustomization = parse(await readFile(file, 'utf8')) as { components?: string[] };
      kustomization.components = [...(kustomization.components ?? []), ...components.map((c) => `../k8s/components/${c}`), ...Object.keys(own)];
      await writeFile(file, stringify(kustomization));
    }
    return await kustomize(join(dir, 'k8s-example'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
