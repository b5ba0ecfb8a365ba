import { readFileSync } from 'node:fs';

interface LockEntry {
  name?: string;
  version?: string;
  link?: boolean;
  resolved?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/**
 * What a production install of `workspaces` holds, read from package-lock.json: `required`, every
 * package reached through dependencies and required peers; `allowed`, those and the ones reached
 * only through optional dependencies. An optional peer (a package that merely works with another
 * when it is there) is neither. Each as name@version.
 */
export function productionPackages(workspaces: readonly string[]): { required: Set<string>; allowed: Set<string> } {
  const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as { packages: Record<string, LockEntry> };
  const { packages } = lock;
  const nameAt = (location: string) => packages[location]?.name ?? location.slice(location.lastIndexOf('node_modules/') + 'node_modules/'.length);
  /** Where Node finds `name` from `location`: its own node_modules, then each one above. */
  const resolve = (location: string, name: string): string | undefined => {
    for (let base = location; ;) {
      const candidate = base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`;
      const entry = packages[candidate];
      if (entry !== undefined) return entry.link === true && entry.resolved !== undefined ? entry.resolved : candidate;
      if (base === '') return undefined;
      const up = base.lastIndexOf('/node_modules/');
      base = up >= 0 ? base.slice(0, up) : '';
    }
  };
  const reached = new Map<string, boolean>();
  const queue: [string, boolean][] = workspaces.map((w) => [w, true]);
  while (queue.length > 0) {
    const [location, required] = queue.shift()!;
    const seen = reached.get(location);
    if (seen === true || (seen === false && !required)) continue;
    reached.set(location, required);
    const entry = packages[location] ?? {};
    const edges: [string, boolean][] = [
      ...Object.keys(entry.dependencies ?? {}).map((n): [string, boolean] => [n, required]),
      ...Object.keys(entry.optionalDependencies ?? {}).map((n): [string, boolean] => [n, false]),
      ...Object.keys(entry.peerDependencies ?? {})
        .filter((n) => entry.peerDependenciesMeta?.[n]?.optional !== true)
        .map((n): [string, boolean] => [n, required]),
    ];
    for (const [name, edgeRequired] of edges) {
      const target = resolve(location, name);
      if (target !== undefined) queue.push([target, edgeRequired]);
      else if (edgeRequired) throw new Error(`${location} needs ${name}, which package-lock.json does not hold`);
    }
  }
  const required = new Set<string>();
  const allowed = new Set<string>();
  for (const [location, isRequired] of reached) {
    const id = `${nameAt(location)}@${packages[location]?.version ?? '?'}`;
    allowed.add(id);
    if (isRequired) required.add(id);
  }
  return { required, allowed };
}
