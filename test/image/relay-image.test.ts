import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { request } from 'undici';
import { eventually } from '@wxim/testkit';
import { readCompose } from '../deploy/compose-file.js';
import { graceSeconds, type Project, runArgs } from './compose-container.js';
import { DOCKER, docker, dockerOk } from './docker-cli.js';
import { productionPackages } from './production-packages.js';

/**
 * The image for real (npm run test:image, which CI runs): `docker build` of the repository's
 * Dockerfile, then Redis, the five services and the sandbox each started from it as
 * docker-compose.yml starts them, on a network of their own; a customer's message reaches an agent
 * and the agent's reply reaches the customer through the published ports; each container stops on
 * SIGTERM, exit 0, within its grace period. Needs a Docker engine; where no registry is reachable,
 * scripts/docker/base-images.sh makes the base images first.
 */
const repo = fileURLToPath(new URL('../../', import.meta.url));
const compose = readCompose();
const SERVICES = ['wechat-gateway', 'im-callback', 'dashboard', 'im-worker', 'wechat-pusher', 'sandbox'] as const;
const image = compose.services['wechat-gateway']!.image!;
const project: Project = { prefix: `wxim-image-${process.pid}`, network: `wxim-image-${process.pid}` };
const containerOf = (name: string) => `${project.prefix}-${name}`;

interface View {
  customer: { from: string; text: string }[];
  agent: { items: { from: string; text: string }[]; servedBy?: string };
}

t.before(async () => {
  const info = await docker(['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 20_000 });
  if (info.code !== 0)
    throw new Error(
      `no Docker engine answers (${DOCKER} info: ${info.stderr.trim().split('\n').at(-1)}): start dockerd (bash scripts/docker/dockerd.sh) and run again`,
    );
});

t.test('the image builds from the Dockerfile', async (t) => {
  const started = Date.now();
  const ca = process.env['NODE_EXTRA_CA_CERTS'];
  // npm inside the build trusts what npm here trusts: the CA as a BuildKit secret, in no layer.
  const secret = ca !== undefined && ca !== '' && existsSync(ca) ? ['--secret', `id=ca,src=${ca}`] : [];
  const build = await docker(['build', ...secret, '--tag', image, repo], { timeoutMs: 20 * 60_000, env: { DOCKER_BUILDKIT: '1' } });
  t.equal(build.code, 0, `docker build ${build.code === 0 ? 'succeeded' : `failed: ${build.stderr.trim().slice(-3000)}`}`);
  t.comment(`docker build took ${Math.round((Date.now() - started) / 1000)} s`);
  if (build.code !== 0) t.bailout('no image to run (no registry here? bash scripts/docker/base-images.sh makes the base images)');
});

t.test("the image's node_modules holds the services' production dependencies and nothing else", async (t) => {
  const listing = await dockerOk([
    'run',
    '--rm',
    image,
    '--input-type=module',
    '-e',
    `import { readdirSync, readFileSync, lstatSync, existsSync } from 'node:fs';
     const found = [];
     const walk = (dir) => {
       if (!existsSync(dir)) return;
       for (const entry of readdirSync(dir)) {
         const path = dir + '/' + entry;
         if (entry.startsWith('.')) continue;
         if (entry.startsWith('@')) { walk(path); continue; }
         const pkg = JSON.parse(readFileSync(path + '/package.json', 'utf8'));
         found.push(pkg.name + '@' + pkg.version);
         if (!lstatSync(path).isSymbolicLink()) walk(path + '/node_modules');
       }
     };
     walk('node_modules');
     // Every workspace's own node_modules, from the root package.json's list (a "dir/*" entry is each folder in dir).
     for (const w of JSON.parse(readFileSync('package.json', 'utf8')).workspaces) {
       const dirs = w.endsWith('/*') ? (existsSync(w.slice(0, -2)) ? readdirSync(w.slice(0, -2)).map((d) => w.slice(0, -1) + d) : []) : [w];
       for (const dir of dirs) walk(dir + '/node_modules');
     }
     console.log(JSON.stringify([...new Set(found)]));`,
  ]);
  const held = new Set(JSON.parse(listing) as string[]);
  const workspaces = ['cli', ...SERVICES.filter((s) => s !== 'sandbox').map((s) => `services/${s}`)];
  const { required, allowed } = productionPackages(workspaces);
  t.same(
    [...held].filter((p) => !allowed.has(p)),
    [],
    'nothing beyond what the services and the launcher need at run time',
  );
  t.same(
    [...required].filter((p) => !held.has(p)),
    [],
    'everything they need',
  );
  const names = [...held].map((p) => p.slice(0, p.lastIndexOf('@')));
  for (const tool of ['typescript', 'tap', 'eslint', 'prettier', 'playwright-core', 'testcontainers', '@wxim/testkit', '@wxim/bench'])
    t.notOk(names.includes(tool), `no ${tool}`);
  t.comment(`${held.size} packages in the image`);
});

t.test('the relay runs from the image as compose starts it: page → agent → customer, then each container stops cleanly on SIGTERM', async (t) => {
  const started = Date.now();
  const volumes = Object.keys(compose.volumes ?? {});
  t.teardown(async () => {
    const all = ['redis', ...SERVICES].map(containerOf);
    await docker(['rm', '--force', '--volumes', ...all]);
    await docker(['network', 'rm', project.network]);
    if (volumes.length > 0) await docker(['volume', 'rm', ...volumes.map((v) => `${project.prefix}-${v}`)]);
  });
  await dockerOk(['network', 'create', project.network]);
  for (const volume of volumes) await dockerOk(['volume', 'create', `${project.prefix}-${volume}`]);

  const healthy = async (name: string) => {
    let last = '';
    await eventually(
      `${name} is healthy`,
      async () => {
        last = await dockerOk(['inspect', '--format', '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}', containerOf(name)]);
        if (last.startsWith('exited') || last.startsWith('dead')) {
          const logs = await docker(['logs', '--tail', '30', containerOf(name)]);
          throw new Error(`${name} stopped (${last}): ${logs.stdout}${logs.stderr}`);
        }
        return last.endsWith(' healthy');
      },
      180_000,
      500,
    ).catch(async (err: unknown) => {
      const logs = await docker(['logs', '--tail', '30', containerOf(name)]);
      throw new Error(`${String(err)} (${last}): ${logs.stdout}${logs.stderr}`);
    });
  };

  // Compose's order: Redis healthy first (depends_on), then the rest.
  await dockerOk(runArgs(project, 'redis', compose.services['redis']!));
  await healthy('redis');
  for (const name of SERVICES) await dockerOk(runArgs(project, name, compose.services[name]!));
  await Promise.all(SERVICES.map(healthy));
  t.comment(`healthy ${Math.round((Date.now() - started) / 1000)} s after the first start`);
  for (const name of SERVICES.filter((s) => s !== 'sandbox')) {
    const logs = await docker(['logs', containerOf(name)]);
    t.match(logs.stdout, /sandbox mode/, `${name} runs in sandbox mode`);
  }

  const published = async (name: string, port: number) => {
    const at = (await dockerOk(['port', containerOf(name), `${port}/tcp`])).split('\n')[0]!;
    return `http://${at}`;
  };
  const page = await published('sandbox', 3003);
  const post = async (path: string, body: object) => {
    const res = await request(`${page}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  };
  let view: View = { customer: [], agent: { items: [] } };
  const look = async (agent: string) => (view = (await (await request(`${page}/api/view?openid=${openid}&agent=${agent}`)).body.json()) as View);

  const { openid } = (await post('/api/customers', {})).body as { openid: string };
  t.same((await post('/api/customer/text', { openid, text: 'hello from the image' })).body, { status: 200 }, 'the gateway container took the push');
  // The page plays two accounts; with no ?account= its routes answer for the first (default).
  const { accounts } = (await (await request(`${page}/api/setup`)).body.json()) as { accounts: { id: string; agents: string[] }[] };
  const agents = accounts[0]!.agents;
  await eventually('the message reaches an agent', async () => (await look(agents[0]!)).agent.servedBy !== undefined, 60_000, 250);
  const agent = view.agent.servedBy!;
  await look(agent);
  t.same(
    view.agent.items.map((i) => [i.from, i.text]),
    [['customer', 'hello from the image']],
    `${agent} has it, through im-worker's container`,
  );
  const reply = await post('/api/agent/reply', { agent, openid, text: 'hello back from IM' });
  t.equal(reply.body['delivered'], true, "im-callback's container took the callback");
  await eventually(
    'the reply reaches the customer',
    async () => (await look(agent)).customer.some((i) => i.from === 'business' && i.text === 'hello back from IM'),
    60_000,
    250,
  );
  t.pass("the reply reached the customer through wechat-pusher's container");
  const board = await request(`${await published('dashboard', 3002)}/api/queues`);
  t.equal(board.statusCode, 200, 'the dashboard shows the queues on its published port');
  await board.body.dump();

  // docker compose stop: SIGTERM, then a kill once stop_grace_period has passed. Dependents first, Redis last.
  const stop = async (name: string) => {
    const grace = graceSeconds(compose.services[name]!);
    const from = Date.now();
    await dockerOk(['stop', '--time', String(grace), containerOf(name)], { timeoutMs: (grace + 30) * 1000 });
    const took = (Date.now() - from) / 1000;
    const [code, killed] = (await dockerOk(['inspect', '--format', '{{.State.ExitCode}} {{.State.OOMKilled}}', containerOf(name)])).split(' ');
    t.equal(code, '0', `${name}: exit 0 on SIGTERM`);
    t.equal(killed, 'false', `${name}: not killed for memory`);
    t.ok(took < grace, `${name}: stopped in ${took.toFixed(1)} s, within its ${grace} s grace period`);
  };
  await Promise.all(SERVICES.map(stop));
  await stop('redis');
});
