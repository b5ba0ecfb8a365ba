// Each workspace declares exactly the packages its sources import: none imported without being
// declared (it would resolve only through npm's hoisting, and break in a production image built
// from that workspace's dependencies), none declared that nothing imports. Tests may also use the
// root's devDependencies and the repository's own workspaces. Exits 1 naming every mismatch.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const readJson = (path) => JSON.parse(readFileSync(join(root, path), 'utf8'));
const rootPkg = readJson('package.json');
const workspaces = rootPkg.workspaces.map((dir) => ({ dir, pkg: readJson(`${dir}/package.json`) }));
const ownNames = new Set(workspaces.map((w) => w.pkg.name));
const builtins = new Set(builtinModules);

function files(dir) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(join(root, dir));
  } catch {
    return out;
  }
  for (const name of entries) {
    const path = `${dir}/${name}`;
    if (name === 'node_modules' || name === 'dist') continue;
    if (statSync(join(root, path)).isDirectory()) out = out.concat(files(path));
    else if (/\.(ts|mts|mjs|js)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The packages a file imports (statically, dynamically or re-exports from), by package name. */
function importedPackages(path) {
  const text = readFileSync(join(root, path), 'utf8');
  const found = new Set();
  const pattern = /(?:^|[\s;])(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(pattern)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || builtins.has(spec)) continue;
    const parts = spec.split('/');
    found.add(spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]);
  }
  return found;
}

const union = (paths) => new Set(paths.flatMap((p) => [...importedPackages(p)]));
const problems = [];
const rootDev = new Set(Object.keys(rootPkg.devDependencies ?? {}));

for (const { dir, pkg } of workspaces) {
  const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
  const used = union(files(`${dir}/src`));
  for (const name of used) if (!declared.has(name)) problems.push(`${dir}: imports ${name} but does not declare it in dependencies`);
  for (const name of declared) if (!used.has(name)) problems.push(`${dir}: declares ${name} but nothing in src imports it`);
  const testDeps = new Set([...declared, ...Object.keys(pkg.devDependencies ?? {}), ...rootDev, ...ownNames]);
  for (const name of union(files(`${dir}/test`))) if (!testDeps.has(name)) problems.push(`${dir}/test: imports ${name}, declared neither by ${dir} nor in the root devDependencies`);
}
for (const name of union(files('test'))) {
  if (!rootDev.has(name) && !ownNames.has(name)) problems.push(`test: imports ${name}, which the root devDependencies do not declare`);
}

if (problems.length > 0) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`workspaces: every import declared, every dependency used (${workspaces.length} workspaces)\n`);
