import { existsSync, readFileSync } from 'node:fs';
import t from 'tap';

const root = new URL('../../', import.meta.url);
const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8');
const workspaces = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { workspaces: string[] }).workspaces;

/** The Dockerfile's stages: each FROM with the instructions after it. */
function stages(): { from: string; name?: string; lines: string[] }[] {
  const out: { from: string; name?: string; lines: string[] }[] = [];
  const logical = dockerfile.replace(/\\\n/g, ' ').split('\n');
  for (const line of logical) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) out.push({ from: from[1]!, ...(from[2] ? { name: from[2] } : {}), lines: [] });
    else if (line.trim() !== '' && !line.startsWith('#')) out.at(-1)?.lines.push(line.trim());
  }
  return out;
}

t.test('the image is multi-stage on a maintained Node LTS, and runs as a non-root user', async (t) => {
  const all = stages();
  t.ok(all.length >= 2, 'several stages');
  const base = /^ARG NODE_IMAGE=node:(\d+)-/m.exec(dockerfile);
  t.ok(base !== null && Number(base[1]) >= 22 && Number(base[1]) % 2 === 0, `an even-numbered Node LTS of 22 or later (${base?.[1]})`);
  const final = all.at(-1)!;
  t.ok(
    final.lines.some((l) => /^USER\s+node$/.test(l)),
    'the final stage runs as node',
  );
  t.match(final.lines.join('\n'), /ENTRYPOINT \["node"\]/, 'the command picks the service');
});

t.test('the final image holds production dependencies of the services and the CLI only', async (t) => {
  const deps = stages().find((s) => s.name === 'deps');
  t.ok(deps, 'a dependencies stage');
  const install = deps!.lines.find((l) => l.includes('npm ci'))!;
  t.match(install, /--omit=dev/, 'no dev dependencies');
  const installed = [...install.matchAll(/-w (\S+)/g)].map((m) => m[1]!);
  const services = workspaces.filter((w) => w.startsWith('services/'));
  t.same(installed.filter((w) => w.startsWith('services/')).sort(), services.sort(), 'every service');
  t.ok(installed.includes('cli'), 'the CLI (npm start, sandbox mode, the tools)');
  t.notOk(
    installed.some((w) => w === 'testkit' || w === 'bench'),
    'no test tooling or benchmarks',
  );
  const copied = deps!.lines.filter((l) => l.startsWith('COPY')).join('\n');
  t.notMatch(copied, /testkit|bench/, 'neither is copied into it');
});

t.test("the image keeps the sandbox page's files: sandbox mode serves them", async (t) => {
  const deps = stages().find((s) => s.name === 'deps')!;
  const removed = deps.lines.filter((l) => l.includes('rm -rf')).join(' ');
  t.notMatch(removed, /public/, 'public/ is not removed');
  t.match(removed, /packages\/\*\/src/, 'sources are');
  for (const file of ['index.html', 'app.js', 'style.css'])
    t.ok(existsSync(new URL(`packages/sandbox/public/${file}`, root)), `packages/sandbox/public/${file}`);
  t.match(dockerfile, /^EXPOSE .*\b3003\b/m, 'the page port is exposed');
});

t.test("npm in the build trusts the machine's CA through a BuildKit secret, which no layer keeps", async (t) => {
  const npmSteps = stages().flatMap((s) => s.lines.filter((l) => l.startsWith('RUN') && l.includes('npm ci')));
  t.equal(npmSteps.length, 2, 'the build and the production dependencies');
  for (const step of npmSteps) {
    t.match(step, /^RUN --mount=type=secret,id=ca\b/, 'the CA mounted for this step only');
    t.match(step, /NODE_EXTRA_CA_CERTS=\/run\/secrets\/ca/, 'and given to npm');
  }
  t.notMatch(dockerfile, /^(COPY|ADD)\b.*\.(crt|pem)\b/im, 'no certificate copied into any stage');
});
