import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type Faults, SANDBOX, WechatPlatform, fakeOpenId, sandboxEnv } from '@wxim/sandbox';
import { request } from 'undici';
import { type LoadRequest, percentile, runLoad } from './lib/load.js';
import { APPENDFSYNC, type BenchRedis, type Proc, freePort, startNode, startRedis } from './lib/processes.js';

/**
 * Relay benchmark: Redis, the IM simulator, wechat-gateway and im-worker as separate processes;
 * signed pushes from K customers at concurrency 32; end-to-end = push sent → IM simulator got it.
 */
const SCALE = Number(process.env['BENCH_SCALE'] ?? 1);
const CUSTOMERS = 1000;
const CONCURRENCY = 32;
const entry = (path: string) => fileURLToPath(new URL(path, import.meta.url));

interface Scenario {
  name: string;
  pushes: number;
  /** Pushes per second (open loop); undefined: as fast as the gateway answers. */
  rate?: number;
  faults?: Faults;
  /** Sample Redis memory this many times over the run. */
  memorySamples?: number;
  /** Hold the im-worker (SIGSTOP) while the pushes arrive, then let it drain the backlog. */
  burst?: boolean;
}

interface Row {
  name: string;
  pushesPerSecond: number;
  ackP50: number;
  ackP99: number;
  e2eP50: number;
  e2eP99: number;
  lost: number;
  duplicated: number;
  non200: number;
  /** Jobs that stepped aside for an earlier push of their customer, per 100 pushes. */
  waitedTurn: number;
  /** Burst runs: how fast the im-worker relayed the backlog once let go, messages/s. */
  drainPerSecond?: number;
  rss: Record<string, number>;
  /** CPU µs per push, by process, from the first push until the last reached IM. */
  cpu: Record<string, number>;
  memory?: { sent: number; mb: number }[];
  /** Memory runs: Redis killed at the end and started again on its AOF. */
  restart?: { aofMb: number; seconds: number };
}

interface Stack {
  redis: BenchRedis;
  procs: Proc[];
  gatewayUrl: string;
  simUrl: string;
  workerUrl: string;
}

async function startStack(): Promise<Stack> {
  const redis = await startRedis();
  const [simPort, gatewayPort, workerPort] = [await freePort(), await freePort(), await freePort()];
  const simUrl = `http://127.0.0.1:${simPort}`;
  const sim = await startNode('im-simulator', entry('./im-sim-server.js'), { PORT: String(simPort) }, `${simUrl}/healthz`);
  const env = {
    REDIS_URL: redis.url,
    WECHAT_TOKEN: SANDBOX.token,
    WECHAT_APP_ID: SANDBOX.appId,
    WECHAT_ENCODING_AES_KEY: SANDBOX.encodingAesKey,
    ...sandboxEnv(simUrl),
    GATEWAY_PORT: String(gatewayPort),
    IM_WORKER_PORT: String(workerPort),
    // The simulator has no rate limit; the real IM allows 200 sendmsg/s per app (see README).
    IM_RATE_LIMIT: '100000',
  };
  const gateway = await startNode('wechat-gateway', entry('../../services/wechat-gateway/dist/main.js'), env, `http://127.0.0.1:${gatewayPort}/readyz`);
  const worker = await startNode('im-worker', entry('../../services/im-worker/dist/main.js'), env, `http://127.0.0.1:${workerPort}/readyz`);
  return { redis, procs: [redis, sim, gateway, worker], gatewayUrl: `http://127.0.0.1:${gatewayPort}`, simUrl, workerUrl: `http://127.0.0.1:${workerPort}` };
}

async function getJson<T>(url: string, method: 'GET' | 'PUT' = 'GET', body?: unknown): Promise<T> {
  const res = await request(url, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  return (await res.body.json()) as T;
}

function signedPushes(gatewayUrl: string, customers: readonly string[], count: number): { requests: LoadRequest[]; msgIds: string[] } {
  const wx = new WechatPlatform({ gatewayUrl, token: SANDBOX.token, appId: SANDBOX.appId, encodingAesKey: SANDBOX.encodingAesKey, mode: 'safe' });
  const msgIds: string[] = [];
  const requests = Array.from({ length: count }, (_, i) => {
    const msg = wx.text(customers[i % CUSTOMERS]!, `message ${i} 你好 🙂`);
    msgIds.push(msg.kind === 'text' ? msg.msgId : '');
    return wx.sign(msg);
  });
  return { requests, msgIds };
}

async function run(s: Scenario): Promise<Row> {
  const stack = await startStack();
  try {
    // Warm up the processes (JIT, connections) outside the measurement. The warm-up's customers
    // are the run's: each is imported on first sight here, and the run measures known customers.
    const customers = Array.from({ length: CUSTOMERS }, fakeOpenId);
    const warm = signedPushes(stack.gatewayUrl, customers, 2000);
    await runLoad(stack.gatewayUrl, warm.requests, CONCURRENCY, 1000);
    await waitForMessages(stack.simUrl, 2000, 60_000);

    if (s.faults) await getJson(`${stack.simUrl}/sim/faults`, 'PUT', s.faults);
    const { requests, msgIds } = signedPushes(stack.gatewayUrl, customers, s.pushes);
    const memory: { sent: number; mb: number }[] = [];
    let sampling: NodeJS.Timeout | undefined;
    if (s.memorySamples) {
      const every = (s.pushes / (s.rate ?? 5000) / s.memorySamples) * 1000;
      const started = Date.now();
      memory.push({ sent: 0, mb: await stack.redis.usedMemoryMb() });
      sampling = setInterval(() => {
        const sent = Math.min(s.pushes, Math.round(((Date.now() - started) / 1000) * (s.rate ?? 5000)));
        void stack.redis.usedMemoryMb().then((mb) => memory.push({ sent, mb }));
      }, every);
    }
    const cpu0 = stack.procs.map((p) => p.cpuSeconds());
    const gen0 = process.cpuUsage();
    const worker = stack.procs.find((p) => p.name === 'im-worker')!;
    if (s.burst) process.kill(worker.pid!, 'SIGSTOP');
    let load: Awaited<ReturnType<typeof runLoad>>;
    try {
      load = await runLoad(stack.gatewayUrl, requests, CONCURRENCY, s.rate);
    } finally {
      if (s.burst) process.kill(worker.pid!, 'SIGCONT'); // a stopped process would never see SIGTERM
    }
    clearInterval(sampling);
    const drainStart = performance.now();
    await waitForMessages(stack.simUrl, 2000 + load.ok, 120_000 + s.pushes * 10);
    const drainPerSecond = s.burst ? load.ok / ((performance.now() - drainStart) / 1000) : undefined;
    const gen = process.cpuUsage(gen0);
    const cpu: Record<string, number> = Object.fromEntries(stack.procs.map((p, i) => [p.name, ((p.cpuSeconds() - cpu0[i]!) * 1e6) / s.pushes]));
    cpu['load generator'] = (gen.user + gen.system) / s.pushes;
    if (s.memorySamples) memory.push({ sent: s.pushes, mb: await stack.redis.usedMemoryMb() });

    if (process.env['BENCH_REDIS_STATS']) {
      const stats = (await stack.redis.client.info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat_'));
      const parsed = stats.map((l) => {
        const [name, rest] = l.slice(8).split(':');
        const f = Object.fromEntries(rest!.split(',').map((kv) => kv.split('=') as [string, string]));
        return { name, perPush: Number(f['calls']) / (s.pushes + 2000), usec: Number(f['usec']) / (s.pushes + 2000) };
      });
      parsed.sort((a, b) => b.usec - a.usec);
      process.stderr.write(parsed.map((p) => `${p.name}: ${p.perPush.toFixed(2)} calls/push, ${p.usec.toFixed(1)} µs/push`).join('\n') + '\n');
    }
    const waitedTurn = ((await workerCounter(stack.workerUrl, 'wxim_im_waiting_turn_total')) / (s.pushes + 2000)) * 100;
    const receipts = await getJson<[string, number, string | null][]>(`${stack.simUrl}/sim/receipts`);
    const index = new Map(msgIds.map((id, i) => [id, i]));
    const seen = new Map<string, number>();
    const e2e: number[] = [];
    for (const [, receivedAt, msgId] of receipts) {
      if (msgId === null || !index.has(msgId)) continue;
      const count = (seen.get(msgId) ?? 0) + 1;
      seen.set(msgId, count);
      if (count === 1) e2e.push(receivedAt - load.startedAt[index.get(msgId)!]!);
    }
    if (process.env['BENCH_TIMELINE']) printTimeline(receipts, index, load.startedAt);
    e2e.sort((a, b) => a - b);
    const rss: Record<string, number> = Object.fromEntries(stack.procs.map((p) => [p.name, p.peakRssMb()]));
    const restart = s.memorySamples ? await stack.redis.restart() : undefined;
    rss['load generator'] = process.resourceUsage().maxRSS / 1024;
    return {
      name: s.name,
      pushesPerSecond: load.perSecond,
      ackP50: load.p50,
      ackP99: load.p99,
      e2eP50: percentile(e2e, 50),
      e2eP99: percentile(e2e, 99),
      lost: msgIds.length - seen.size,
      duplicated: [...seen.values()].reduce((a, c) => a + c - 1, 0),
      non200: load.failed,
      waitedTurn,
      ...(drainPerSecond === undefined ? {} : { drainPerSecond }),
      rss,
      cpu,
      ...(s.memorySamples ? { memory } : {}),
      ...(restart ? { restart } : {}),
    };
  } finally {
    for (const p of stack.procs.slice().reverse()) await p.stop();
  }
}

async function workerCounter(workerUrl: string, name: string): Promise<number> {
  const res = await request(`${workerUrl}/metrics`);
  const text = await res.body.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

/** BENCH_TIMELINE=1: end-to-end latency per second of sending, to tell a steady tail from bursts. */
function printTimeline(receipts: [string, number, string | null][], index: Map<string, number>, startedAt: Float64Array): void {
  const t0 = startedAt[0]!;
  const bySecond: number[][] = [];
  for (const [, receivedAt, msgId] of receipts) {
    const i = msgId === null ? undefined : index.get(msgId);
    if (i === undefined) continue;
    const second = Math.floor((startedAt[i]! - t0) / 1000);
    (bySecond[second] ??= []).push(receivedAt - startedAt[i]!);
  }
  const lines = bySecond.map((l, s) => {
    l.sort((a, b) => a - b);
    return `${s}s: n=${l.length} p50=${percentile(l, 50).toFixed(0)} p99=${percentile(l, 99).toFixed(0)} max=${l[l.length - 1]!.toFixed(0)}`;
  });
  process.stderr.write(`${lines.join('\n')}\n`);
}

async function waitForMessages(simUrl: string, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await getJson<{ messages: number }>(`${simUrl}/sim/stats`);
    if (stats.messages >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${stats.messages} of ${count} messages reached the IM simulator`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const faults: Faults = { rate: 0.3, kinds: ['http500', 'busy', 'lost', 'slow'], slowMs: 200 };
const scenarios: Scenario[] = [
  { name: 'as fast as the gateway answers', pushes: Math.round(20_000 * SCALE) },
  { name: 'burst: as fast as the gateway answers, im-worker held until the end', pushes: Math.round(20_000 * SCALE), burst: true },
  { name: '500 pushes/s', pushes: Math.round(10_000 * SCALE), rate: 500 },
  { name: '1,000 pushes/s', pushes: Math.round(20_000 * SCALE), rate: 1000 },
  { name: '1,000 pushes/s, 30% IM faults', pushes: Math.round(20_000 * SCALE), rate: 1000, faults },
  { name: '100,000 messages at 1,000/s (memory)', pushes: Math.round(100_000 * SCALE), rate: 1000, memorySamples: 10 },
];
const only = process.env['BENCH_ONLY'];
const rows: Row[] = [];
for (const s of scenarios) {
  // BENCH_ONLY: one run by its exact name, or every run whose name contains it.
  if (only !== undefined && s.name !== only && (scenarios.some((x) => x.name === only) || !s.name.includes(only))) continue;
  process.stderr.write(`running: ${s.name}\n`);
  rows.push(await run(s));
}

/** One figure per process for every run, e.g. CPU or RSS. */
function perProcessTable(title: string, figures: (r: Row) => Record<string, number>): string[] {
  return [
    `| run | ${title}: ${Object.keys(rows[0] ? figures(rows[0]) : {}).join(', ')} |`,
    '|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${Object.values(figures(r))
          .map((v) => v.toFixed(0))
          .join(', ')} |`,
    ),
  ];
}

const f = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '—');
const lines = [
  `Relay benchmark: ${CUSTOMERS} customers, concurrency ${CONCURRENCY}, safe-mode pushes; each row on a fresh Redis (appendfsync ${APPENDFSYNC}), IM simulator, gateway and im-worker, each its own process.`,
  `Machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}; every process and the load generator share the cores.`,
  '',
  '| run | pushes | pushes/s | ack p50 (ms) | ack p99 (ms) | end-to-end p50 (ms) | end-to-end p99 (ms) | lost | duplicated | non-200 | waited their turn (%) |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.name} | ${scenarios.find((s) => s.name === r.name)!.pushes} | ${Math.round(r.pushesPerSecond)} | ${f(r.ackP50)} | ${f(r.ackP99)} | ${f(r.e2eP50)} | ${f(r.e2eP99)} | ${r.lost} | ${r.duplicated} | ${r.non200} | ${r.waitedTurn.toFixed(1)} |`,
  ),
  '',
  ...perProcessTable('CPU µs per push', (r) => r.cpu),
  '',
  ...perProcessTable('peak RSS (MB)', (r) => r.rss),
  ...rows
    .filter((r) => r.drainPerSecond !== undefined)
    .map((r) => `\n"${r.name}": once let go, the im-worker relayed the backlog at ${Math.round(r.drainPerSecond!)} messages/s.`),
  ...rows
    .filter((r) => r.memory)
    .map(
      (r) =>
        `\nRedis used memory over "${r.name}" (pushes sent → MB): ${r.memory!.map((m) => `${m.sent} → ${m.mb.toFixed(1)}`).join(', ')}` +
        (r.restart
          ? `\nRedis killed at the end and started again: it replayed ${r.restart.aofMb.toFixed(0)} MB of AOF in ${r.restart.seconds.toFixed(1)} s.`
          : ''),
    ),
  '',
  'Targets: ≥ 3,000 pushes/s through the gateway; end-to-end p99 < 100 ms at 1,000 pushes/s; 0 lost and 0 duplicated in every run; Redis memory flat over 100,000 messages.',
];
process.stdout.write(`${lines.join('\n')}\n`);
