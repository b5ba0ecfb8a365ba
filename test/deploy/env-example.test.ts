import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { loadConfig } from '@wxim/config';
import { parse } from 'yaml';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

/** Every variable the services read: the config readers' names (in any of @wxim/config's files), and WELCOME_TEXT, read as it is. */
function variablesRead(): Set<string> {
  const dir = new URL('packages/config/src/', root);
  const source = readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => readFileSync(new URL(f, dir), 'utf8'))
    .join('\n');
  const names = [...source.matchAll(/\(env, '([A-Z_]+)'/g), ...source.matchAll(/env\['([A-Z_]+)'\]/g)].map((m) => m[1]!);
  return new Set(names);
}

function exampleVariables(): string[] {
  return read('.env.example')
    .split('\n')
    .map((line) => /^#?\s*([A-Z][A-Z0-9_]+)=/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}

t.test('.env.example documents every variable the services read, and nothing else', async (t) => {
  const read = variablesRead();
  t.ok(read.size > 30, `the readers were found (${read.size})`);
  const documented = exampleVariables();
  t.same(
    [...read].filter((name) => !documented.includes(name)),
    [],
    'every variable read is in .env.example',
  );
  t.same(
    documented.filter((name) => !read.has(name)),
    [],
    'every variable in .env.example is read',
  );
  t.equal(new Set(documented).size, documented.length, 'each once');
});

t.test('.env.example as it is starts the relay in sandbox mode: empty values count as unset', async (t) => {
  const env = Object.fromEntries(exampleVariables().map((name) => [name, '']));
  const config = loadConfig(env);
  t.equal(config.sandbox, undefined, 'sandbox: auto');
  t.equal(config.queuePrefix, 'wxim');
});

t.test('docker-compose.yml sets only variables the services read', async (t) => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, { environment?: Record<string, string> }> };
  const set = Object.values(compose.services).flatMap((service) => Object.keys(service.environment ?? {}));
  t.ok(set.length > 0, 'it sets some');
  const known = variablesRead();
  t.same(
    set.filter((name) => !known.has(name)),
    [],
  );
});
