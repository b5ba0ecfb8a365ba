import { fileURLToPath } from 'node:url';
import { SANDBOX_SECOND } from '@wxim/config';
import type { DeliveredMessage } from '@wxim/sandbox';
import t from 'tap';
import { request } from 'undici';
import { type ServiceProcess, eventually, freePort, freePortRun, runService, startTestRedis, testPrefix, whenReady } from '@wxim/testkit';

const entry = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const SERVICES = ['wechat-gateway', 'im-callback', 'dashboard', 'im-worker', 'wechat-pusher'] as const;

interface View {
  customer: { from: string; text: string; note?: string }[];
  agent: { items: { from: string; text: string }[]; servedBy?: string };
}

/**
 * What `docker compose up` with an empty .env runs, as processes: the sandbox alone
 * (cli/dist/sandbox.js) and each of the five services in a process of its own with no
 * credential at all, every one given the same environment, as compose gives each container .env.
 */
t.test('sandbox mode with every service apart: the page reaches an agent and the reply reaches the customer, for both accounts', async (t) => {
  const redis = await startTestRedis();
  t.teardown(() => redis.close());
  const ports = {
    GATEWAY_PORT: await freePort(),
    CALLBACK_PORT: await freePort(),
    DASHBOARD_PORT: await freePort(),
    IM_WORKER_PORT: await freePort(),
    PUSHER_PORT: await freePort(),
    SANDBOX_PORT: await freePortRun(3),
  };
  // As docker-compose.yml sets them: the sandbox by name, listening on every interface, and where it finds the services.
  const links = {
    SANDBOX_HOST: 'localhost',
    LOCAL_BIND: '0.0.0.0',
    SANDBOX_GATEWAY_URL: `http://localhost:${ports.GATEWAY_PORT}`,
    SANDBOX_CALLBACK_URL: `http://localhost:${ports.CALLBACK_PORT}/im/callback`,
  };
  const env = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: testPrefix(),
    LOG_LEVEL: 'warn',
    ...links,
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
  };
  const procs: ServiceProcess[] = [];
  t.teardown(() => {
    for (const p of procs) p.child.kill('SIGKILL');
  });
  const sandbox = runService(entry('cli/dist/sandbox.js'), env);
  procs.push(sandbox);
  for (const name of SERVICES) procs.push(runService(entry(`services/${name}/dist/main.js`), env));
  const portOf = {
    'wechat-gateway': ports.GATEWAY_PORT,
    'im-callback': ports.CALLBACK_PORT,
    dashboard: ports.DASHBOARD_PORT,
    'im-worker': ports.IM_WORKER_PORT,
    'wechat-pusher': ports.PUSHER_PORT,
  };
  for (const [i, name] of SERVICES.entries())
    await whenReady(portOf[name], procs[i + 1]!.child).catch((err: unknown) => {
      throw new Error(`${name}: ${String(err)} ${procs[i + 1]!.output().stderr}`);
    });
  await eventually('the sandbox page answers', async () => {
    const res = await request(`http://127.0.0.1:${ports.SANDBOX_PORT}/healthz`).catch(() => undefined);
    await res?.body.dump();
    return res?.statusCode === 200;
  });
  for (const [i, name] of SERVICES.entries())
    t.match(procs[i + 1]!.output().stdout, /sandbox mode \(SANDBOX=1, or no WeChat or IM credential configured\)/, `${name} says it runs in sandbox mode`);

  const page = `http://127.0.0.1:${ports.SANDBOX_PORT}`;
  const post = async (path: string, body: object) => {
    const res = await request(`${page}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  };
  const { openid } = (await post('/api/customers', {})).body as { openid: string };
  t.same((await post('/api/customer/text', { openid, text: 'hello from apart' })).body, { status: 200 }, 'the gateway took the push');
  let view: View = { customer: [], agent: { items: [] } };
  const look = async (agent: string) => (view = (await (await request(`${page}/api/view?openid=${openid}&agent=${agent}`)).body.json()) as View);
  await eventually('the message reaches an agent', async () => (await look('agent1')).agent.servedBy !== undefined);
  const agent = view.agent.servedBy!;
  await look(agent);
  t.same(
    view.agent.items.map((i) => [i.from, i.text]),
    [['customer', 'hello from apart']],
    `${agent} has it`,
  );

  const reply = await post('/api/agent/reply', { agent, openid, photo: true });
  t.equal(reply.body['delivered'], true, 'im-callback took the callback');
  await post('/api/agent/reply', { agent, openid, text: 'hello back' });
  await eventually('the photo and the reply reach the customer', async () => (await look(agent)).customer.filter((i) => i.from === 'business').length === 2);
  const sent = (await (await request(`http://127.0.0.1:${ports.SANDBOX_PORT + 2}/sim/sent`)).body.json()) as DeliveredMessage[];
  t.same(
    sent.map((m) => m.msgtype),
    ['image', 'text'],
    'in order, each once: the pusher fetched the photo from the sandbox and uploaded it',
  );
  // The second account, through the same containers: the gateway takes its pushes at /wechat/second,
  // its own IM app calls im-callback back (told apart by SdkAppid), and its reply goes out through its own Official Account.
  const second = (await post('/api/customers', {})).body['openid'] as string;
  t.same((await post('/api/customer/text?account=second', { openid: second, text: 'hello to second' })).body, { status: 200 });
  const lookSecond = async (agent: string) =>
    (view = (await (await request(`${page}/api/view?account=second&openid=${second}&agent=${agent}`)).body.json()) as View);
  await eventually("second's customer reaches an agent of second's IM app", async () => (await lookSecond('agent3')).agent.servedBy !== undefined);
  const secondAgent = view.agent.servedBy!;
  t.ok(['agent3', 'agent4'].includes(secondAgent), `${secondAgent} serves them`);
  await post('/api/agent/reply?account=second', { agent: secondAgent, openid: second, text: 'hello back from second' });
  await eventually("the reply reaches second's customer", async () =>
    (await lookSecond(secondAgent)).customer.some((i) => i.from === 'business' && i.text === 'hello back from second'),
  );
  const sentBySecond = (await (
    await request(`http://127.0.0.1:${ports.SANDBOX_PORT + 2}/sim/sent?appid=${SANDBOX_SECOND.appId}`)
  ).body.json()) as DeliveredMessage[];
  t.same(
    sentBySecond.map((m) => m.openid),
    [second],
    "through second's Official Account, to its customer only",
  );

  const health = (...args: string[]) => runService(entry('cli/dist/healthcheck.js'), {}, args).exited;
  t.equal(await health(String(ports.GATEWAY_PORT)), 0, "the containers' health check: the gateway is ready");
  t.equal(await health(String(ports.SANDBOX_PORT), '/healthz'), 0, 'the sandbox is up');
  t.equal(await health(String(await freePort())), 1, 'nothing listening: unhealthy');
  const board = await request(`http://127.0.0.1:${ports.DASHBOARD_PORT}/api/queues`);
  t.equal(board.statusCode, 200, 'the dashboard shows the sandbox queues');
  await board.body.dump();

  for (const p of procs) p.child.kill('SIGTERM');
  t.same(await Promise.all(procs.map((p) => p.exited)), [0, 0, 0, 0, 0, 0], 'each exits cleanly');
});

t.test('with sandbox mode off the sandbox alone says why there is no sandbox and exits 0', async (t) => {
  const configured = runService(entry('cli/dist/sandbox.js'), { WECHAT_TOKEN: 'tokentoken', IM_SDK_APP_ID: '1400000000' });
  t.equal(await configured.exited, 0);
  t.match(configured.output().stdout, /Sandbox mode is off \(WeChat or IM credentials are configured\)/);
  const off = runService(entry('cli/dist/sandbox.js'), { SANDBOX: '0' });
  t.equal(await off.exited, 0);
  t.match(off.output().stdout, /Sandbox mode is off \(SANDBOX=0\)/);
});

t.test(
  'a service alone with no credential and no SANDBOX_HOST stops, naming what is missing: a deployment whose secrets did not arrive never serves the sandbox',
  async (t) => {
    const proc = runService(entry('services/wechat-gateway/dist/main.js'), {});
    t.equal(await proc.exited, 78);
    t.match(proc.output().stderr, /^wechat-gateway: configuration error: WECHAT_TOKEN is missing/);
  },
);
