import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { WechatPlatform, fakeOpenId } from '@wxim/sandbox';
import { type LoadRequest, percentile, runLoad } from './lib/load.js';
import { APPENDFSYNC, type Proc, freePort, startImSimulator, startNode, startRedis } from './lib/processes.js';
import { CONCURRENCY, arrivalsOf } from './lib/pushes.js';
import { getJson } from './lib/relay-stack.js';
import { testAccountCredentials, writeAccountsFile } from '@wxim/testkit';

/**
 * Many Official Accounts on one relay (ACCOUNTS_FILE): Redis, wechat-gateway and im-worker each a
 * process, one IM simulator process per account's IM app (IM's real limit on), the relay's default
 * configuration; end-to-end = push due → its IM app accepted it. Two runs (BENCH_ONLY picks one):
 * - `accounts`: BENCH_ACCOUNTS (10) accounts, each's customers pushing at BENCH_ACCOUNT_RATE
 *   (50/s) for BENCH_SECONDS (30 s), all at once, after a warm-up;
 * - `fairness`: a backlog of 3,000 on one account while another's customers push 20/s for 10 s.
 */
const ACCOUNTS = Number(process.env['BENCH_ACCOUNTS'] ?? 10);
const RATE = Number(process.env['BENCH_ACCOUNT_RATE'] ?? 50);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 30);
const CUSTOMERS = 20;
const entry = (path: string) => fileURLToPath(new URL(path, import.meta.url));

interface Account {
  id: string;
  wechat: WechatPlatform;
  sim: Proc;
  simUrl: string;
  customers: string[];
}

/** Pushes from every account in turn (a1, b1, …, a2, b2, …): `perAccount` each, every account's customers in turn. */
function pushes(accounts: Account[], perAccount: number, text: string): { requests: LoadRequest[]; msgIds: string[] } {
  const requests: LoadRequest[] = [];
  const msgIds: string[] = [];
  for (let i = 0; i < perAccount; i++) {
    for (const a of accounts) {
      const msg = a.wechat.text(a.customers[i % a.customers.length]!, `${text} ${i} 你好 🙂`);
      msgIds.push(msg.kind === 'text' ? msg.msgId : '');
      requests.push(a.wechat.sign(msg));
    }
  }
  return { requests, msgIds };
}

async function receipts(accounts: Account[]): Promise<[string, number, string | null][]> {
  return (await Promise.all(accounts.map((a) => getJson<[string, number, string | null][]>(`${a.simUrl}/sim/receipts`)))).flat();
}

async function waitForAll(accounts: Account[], msgIds: readonly string[], timeoutMs: number): Promise<void> {
  const wanted = new Set(msgIds);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = new Set((await receipts(accounts)).map((r) => r[2]).filter((id) => id !== null && wanted.has(id)));
    if (got.size >= wanted.size || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface Stack {
  redis: Proc;
  gateway: Proc;
  worker: Proc;
  gatewayUrl: string;
  accounts: Account[];
  stop(): Promise<void>;
}

/** Redis, `count` accounts' IM simulators, then the gateway and the im-worker with their ACCOUNTS_FILE. */
async function startAccounts(count: number): Promise<Stack> {
  const redis = await startRedis();
  const procs: Proc[] = [redis];
  const stop = async () => {
    for (const p of [...procs].reverse()) await p.stop();
  };
  try {
    const [gatewayPort, workerPort] = [await freePort(), await freePort()];
    const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    const accounts: Account[] = [];
    const entries: unknown[] = [];
    for (let i = 0; i < count; i++) {
      const id = `brand-${String.fromCharCode(97 + i)}`;
      const { appId, token, aesKey, sdkAppId, imKey, agents } = testAccountCredentials(i, id);
      const simPort = await freePort();
      const sim = await startImSimulator(simPort, { SIM_SDK_APP_ID: String(sdkAppId), SIM_SECRET_KEY: imKey, SIM_AGENTS: agents.join(',') });
      procs.push(sim);
      const simUrl = `http://127.0.0.1:${simPort}`;
      const wechat = new WechatPlatform({ gatewayUrl, pushPath: `/wechat/${id}`, token, appId, encodingAesKey: aesKey, mode: 'safe' });
      accounts.push({ id, wechat, sim, simUrl, customers: Array.from({ length: CUSTOMERS }, fakeOpenId) });
      entries.push({ id, wechat: { appId, token, aesKey }, im: { sdkAppId, secretKey: imKey, agents, apiBase: simUrl } });
    }
    const file = writeAccountsFile(entries);
    const env = { REDIS_URL: redis.url, ACCOUNTS_FILE: file, GATEWAY_PORT: String(gatewayPort), IM_WORKER_PORT: String(workerPort), AGENT_MAX_OPEN: '10000' };
    const gateway = await startNode('wechat-gateway', entry('../../services/wechat-gateway/dist/main.js'), env, `${gatewayUrl}/readyz`);
    procs.push(gateway);
    const worker = await startNode('im-worker', entry('../../services/im-worker/dist/main.js'), env, `http://127.0.0.1:${workerPort}/readyz`);
    procs.push(worker);
    return { redis, gateway, worker, gatewayUrl, accounts, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Every customer known to its IM app and the processes' JIT settled: 10 s at `rate` per account. */
async function warmUp(stack: Stack, accounts: Account[], rate: number): Promise<void> {
  const warm = pushes(accounts, rate * 10, 'warm-up');
  await runLoad(stack.gatewayUrl, warm.requests, CONCURRENCY, rate * accounts.length);
  await waitForAll(accounts, warm.msgIds, 120_000);
}

const machine = (sims: number) =>
  `Machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}; Redis (appendfsync ${APPENDFSYNC}), wechat-gateway, im-worker, ${sims} IM simulators and the load generator share the cores.`;

async function manyAccounts(): Promise<string[]> {
  const stack = await startAccounts(ACCOUNTS);
  try {
    const { accounts, gateway, worker, redis } = stack;
    await warmUp(stack, accounts, RATE);
    const run = pushes(accounts, RATE * SECONDS, 'message');
    const cpu0 = [gateway, worker, redis].map((p) => p.cpuSeconds());
    const gen0 = process.cpuUsage();
    const load = await runLoad(stack.gatewayUrl, run.requests, CONCURRENCY, RATE * ACCOUNTS);
    await waitForAll(accounts, run.msgIds, 120_000);
    const cpuUs = [gateway, worker, redis].map((p, i) => ((p.cpuSeconds() - cpu0[i]!) * 1e6) / run.requests.length);
    const gen = process.cpuUsage(gen0);
    const { e2e, seen } = arrivalsOf(await receipts(accounts), run.msgIds, load.startedAt);
    const doubled = [...seen.values()].filter((n) => n > 1).length;
    return [
      `## ${ACCOUNTS} accounts at ${RATE} pushes/s each (${RATE * ACCOUNTS}/s in all), ${SECONDS} s`,
      '',
      machine(ACCOUNTS),
      '',
      '| figure | value |',
      '|---|---|',
      `| pushes sent / acknowledged | ${load.sent} / ${load.ok} (${load.perSecond.toFixed(0)}/s) |`,
      `| ack p50 / p99 (ms) | ${load.p50.toFixed(0)} / ${load.p99.toFixed(0)} |`,
      `| end-to-end p50 / p99 (ms) | ${percentile(e2e, 50).toFixed(0)} / ${percentile(e2e, 99).toFixed(0)} |`,
      `| lost / doubled | ${load.ok - seen.size} / ${doubled} |`,
      `| CPU per message, µs: gateway / im-worker / Redis = total | ${cpuUs.map((c) => c.toFixed(0)).join(' / ')} = ${cpuUs.reduce((a, b) => a + b, 0).toFixed(0)} |`,
      `| load generator CPU per message, µs | ${((gen.user + gen.system) / run.requests.length).toFixed(0)} |`,
      '',
    ];
  } finally {
    await stack.stop();
  }
}

async function fairness(): Promise<string[]> {
  const stack = await startAccounts(2);
  try {
    const [busy, quiet] = stack.accounts as [Account, Account];
    await warmUp(stack, stack.accounts, 20);
    // The busy account's backlog: 3,000 pushes as fast as the gateway takes them.
    const backlog = pushes([busy], 3000, 'backlog');
    const stored = await runLoad(stack.gatewayUrl, backlog.requests, CONCURRENCY);
    const run = pushes([quiet], 200, 'quiet');
    const load = await runLoad(stack.gatewayUrl, run.requests, 4, 20);
    await waitForAll([quiet], run.msgIds, 60_000);
    const quietDone = Date.now();
    const busyLeft = 3000 - (await receipts([busy])).filter((r) => r[2] !== null && backlog.msgIds.includes(r[2])).length;
    await waitForAll([busy], backlog.msgIds, 120_000);
    const { e2e, seen } = arrivalsOf(await receipts([quiet]), run.msgIds, load.startedAt);
    const busyArrivals = arrivalsOf(await receipts([busy]), backlog.msgIds, stored.startedAt);
    return [
      '## Fairness: a backlog of 3,000 on one account, 20 pushes/s on another for 10 s',
      '',
      machine(2),
      '',
      '| figure | value |',
      '|---|---|',
      `| backlog stored (pushes/s) | ${stored.ok} (${stored.perSecond.toFixed(0)}/s) |`,
      `| backlog left when the quiet account's 200 were through | ${busyLeft} (drained ${((busyArrivals.last - quietDone) / 1000).toFixed(1)} s later) |`,
      `| quiet account end-to-end p50 / p99 / max (ms) | ${percentile(e2e, 50).toFixed(0)} / ${percentile(e2e, 99).toFixed(0)} / ${e2e.at(-1)?.toFixed(0)} |`,
      `| lost / doubled (both accounts) | ${load.ok + stored.ok - seen.size - busyArrivals.seen.size} / ${[...seen.values(), ...busyArrivals.seen.values()].filter((n) => n > 1).length} |`,
      '',
    ];
  } finally {
    await stack.stop();
  }
}

const only = process.env['BENCH_ONLY'];
const lines: string[] = [];
if (only === undefined || only === 'accounts') lines.push(...(await manyAccounts()));
if (only === undefined || only === 'fairness') lines.push(...(await fairness()));
process.stdout.write(lines.join('\n'));
