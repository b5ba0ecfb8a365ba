import { type Faults, fakeOpenId } from '@wxim/sandbox';
import { type Comparison, demoReport, relaySide } from './lib/demo-report.js';
import { runDemo } from './lib/demo-run.js';
import { percentile, runLoad } from './lib/load.js';
import { CONCURRENCY, arrivalsOf, signedPushes, warmUp } from './lib/pushes.js';
import { type RelayStack, getJson, startStack, waitForMessages, workerCounter } from './lib/relay-stack.js';
import { type Row, report } from './lib/relay-report.js';

/**
 * Relay benchmark: Redis, the IM simulator, wechat-gateway and im-worker as separate processes;
 * signed pushes from the customers in turn at concurrency 32; end-to-end = push sent (or due, at
 * a fixed rate) → the IM simulator accepted it. Rows at IM's real limit with the default
 * configuration, and rows that need more than IM allows with both limits lifted (labelled).
 * Rows marked `demo` run the seed's demo (demo-relay.ts) right after, on the same pushes, and
 * compare the two.
 */
const SCALE = Number(process.env['BENCH_SCALE'] ?? 1);

interface Scenario {
  name: string;
  pushes: number;
  /** Customers the pushes come from, in turn (1,000 unless given). */
  customers?: number;
  /** `real`: IM's limit in the simulator and the relay's default IM_RATE_LIMIT; `lifted` for runs that need more than IM allows. */
  imLimit: 'real' | 'lifted';
  /** Pushes per second (open loop); undefined: as fast as the gateway answers. */
  rate?: number;
  faults?: Faults;
  /** Sample Redis memory this many times over the run. */
  memorySamples?: number;
  /** Hold the im-worker (SIGSTOP) while the pushes arrive, then let it drain the backlog. */
  burst?: boolean;
  /** Stop the im-worker (SIGTERM), store the pushes, start a new im-worker and time its drain. */
  backlog?: boolean;
  /**
   * As `backlog`, but the CPU counted is what storing the pushes cost (gateway and Redis, from the
   * first push until the last was answered): the floor of any relay that acks only what it stored.
   */
  storingAlone?: boolean;
  /** Run the seed's demo on the same pushes right after the relay, and compare. */
  demo?: boolean;
}

/** Calls of sendmsg IM let through in each whole second from `fromMs` to `toMs`. */
async function imPace(stack: RelayStack, fromMs: number, toMs: number): Promise<{ mean: number; max: number }> {
  const counts = new Map((await getJson<Record<string, [number, number][]>>(`${stack.simUrl}/sim/pace`))['openim/sendmsg'] ?? []);
  const seconds: number[] = [];
  for (let s = Math.floor(fromMs / 1000) + 1; s < Math.floor(toMs / 1000); s++) seconds.push(counts.get(s) ?? 0);
  if (seconds.length === 0) return { mean: Number.NaN, max: 0 };
  return { mean: seconds.reduce((a, b) => a + b, 0) / seconds.length, max: Math.max(...seconds) };
}

function memorySampler(stack: RelayStack, s: Scenario): { samples: { sent: number; mb: number }[]; stop(): void } {
  const samples: { sent: number; mb: number }[] = [];
  if (!s.memorySamples) return { samples, stop: () => {} };
  const every = (s.pushes / (s.rate ?? 5000) / s.memorySamples) * 1000;
  const started = Date.now();
  void stack.redis.usedMemoryMb().then((mb) => samples.push({ sent: 0, mb }));
  const timer = setInterval(() => {
    const sent = Math.min(s.pushes, Math.round(((Date.now() - started) / 1000) * (s.rate ?? 5000)));
    void stack.redis.usedMemoryMb().then((mb) => samples.push({ sent, mb }));
  }, every);
  return { samples, stop: () => clearInterval(timer) };
}

async function redisStats(stack: RelayStack, pushes: number): Promise<void> {
  const stats = (await stack.redis.client.info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat_'));
  const parsed = stats.map((l) => {
    const [name, rest] = l.slice(8).split(':');
    const f = Object.fromEntries(rest!.split(',').map((kv) => kv.split('=') as [string, string]));
    return { name, perPush: Number(f['calls']) / pushes, usec: Number(f['usec']) / pushes };
  });
  parsed.sort((a, b) => b.usec - a.usec);
  process.stderr.write(parsed.map((p) => `${p.name}: ${p.perPush.toFixed(2)} calls/push, ${p.usec.toFixed(1)} µs/push`).join('\n') + '\n');
}

async function run(s: Scenario): Promise<Row> {
  const stack = await startStack(s.imLimit);
  const customerCount = s.customers ?? 1000;
  try {
    const customers = Array.from({ length: customerCount }, fakeOpenId);
    const warmed = await warmUp(stack.gatewayUrl, stack.simUrl, customers, s.imLimit);

    if (s.faults) await getJson(`${stack.simUrl}/sim/faults`, 'PUT', s.faults);
    const { requests, msgIds } = signedPushes(stack.gatewayUrl, customers, s.pushes);
    const memory = memorySampler(stack, s);
    if (s.backlog || s.storingAlone) await stack.stopWorker();
    const cpu0 = stack.procs.map((p) => p.cpuSeconds());
    const gen0 = process.cpuUsage();
    const worker = stack.procs[3]!;
    if (s.burst) process.kill(worker.pid!, 'SIGSTOP');
    let load: Awaited<ReturnType<typeof runLoad>>;
    try {
      load = await runLoad(stack.gatewayUrl, requests, CONCURRENCY, s.rate);
    } finally {
      if (s.burst) process.kill(worker.pid!, 'SIGCONT'); // a stopped process would never see SIGTERM
    }
    memory.stop();
    const storing = s.storingAlone ? stack.procs.map((p, i) => p.cpuSeconds() - cpu0[i]!) : undefined;
    const genStoring = s.storingAlone ? process.cpuUsage(gen0) : undefined;
    if (s.backlog || s.storingAlone) {
      await stack.startWorker();
      cpu0[3] = 0; // a new process: all of its CPU, start-up included, counts
    }
    await waitForMessages(stack.simUrl, warmed + load.ok, 120_000 + s.pushes * 10);
    const gen = genStoring ?? process.cpuUsage(gen0);
    const used = (p: RelayStack['procs'][number], i: number) => (storing ? (i === 3 ? 0 : storing[i]!) : p.cpuSeconds() - cpu0[i]!);
    const cpu: Record<string, number> = Object.fromEntries(stack.procs.map((p, i) => [p.name, (used(p, i) * 1e6) / s.pushes]));
    cpu['load generator'] = (gen.user + gen.system) / s.pushes;
    if (s.memorySamples) memory.samples.push({ sent: s.pushes, mb: await stack.redis.usedMemoryMb() });
    if (process.env['BENCH_REDIS_STATS']) await redisStats(stack, s.pushes + warmed);

    const waitedTurn =
      ((await workerCounter(stack.workerUrl, 'wxim_im_waiting_turn_total')) / (s.backlog || s.storingAlone ? s.pushes : s.pushes + warmed)) * 100;
    const receipts = await getJson<[string, number, string | null][]>(`${stack.simUrl}/sim/receipts`);
    if (process.env['BENCH_TIMELINE']) printTimeline(receipts, msgIds, load.startedAt);
    const { e2e, seen, first, last } = arrivalsOf(receipts, msgIds, load.startedAt);
    const drainPerSecond = s.burst || s.backlog || s.storingAlone ? seen.size / ((last - first) / 1000) : undefined;
    const rss: Record<string, number> = Object.fromEntries(stack.procs.map((p) => [p.name, p.peakRssMb()]));
    const restart = s.memorySamples ? await stack.redis.restart() : undefined;
    rss['load generator'] = process.resourceUsage().maxRSS / 1024;
    return {
      name: s.name,
      pushes: s.pushes,
      customers: customerCount,
      imLimit: s.imLimit,
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
      imPace: await imPace(stack, first, last),
      rateLimited: (await getJson<{ rateLimited: number }>(`${stack.simUrl}/sim/stats`)).rateLimited,
      rss,
      cpu,
      ...(s.memorySamples ? { memory: memory.samples } : {}),
      ...(restart ? { restart } : {}),
    };
  } finally {
    for (const p of stack.procs.slice().reverse()) await p.stop();
  }
}

/** BENCH_TIMELINE=1: end-to-end latency per second of sending, to tell a steady tail from bursts. */
function printTimeline(receipts: [string, number, string | null][], msgIds: string[], startedAt: Float64Array): void {
  const index = new Map(msgIds.map((id, i) => [id, i]));
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

const faults: Faults = { rate: 0.3, kinds: ['http500', 'busy', 'lost', 'slow'], slowMs: 200 };
const scenarios: Scenario[] = [
  { name: 'steady 150/s', imLimit: 'real', customers: 100, pushes: Math.round(9000 * SCALE), rate: 150, demo: true },
  {
    name: 'steady 150/s, storing alone (im-worker stopped)',
    imLimit: 'real',
    customers: 100,
    pushes: Math.round(9000 * SCALE),
    rate: 150,
    storingAlone: true,
    demo: true,
  },
  { name: 'steady 10/s', imLimit: 'real', customers: 100, pushes: Math.round(600 * SCALE), rate: 10, demo: true },
  { name: 'backlog of 3,000 drains', imLimit: 'real', customers: 100, pushes: 3000, backlog: true },
  { name: 'burst of 4,000: relay vs demo', imLimit: 'real', customers: 100, pushes: 4000, demo: true },
  { name: 'burst of 4,000, im-worker held: relay vs demo', imLimit: 'real', customers: 100, pushes: 4000, burst: true, demo: true },
  { name: "burst of 4,000, IM's limit lifted: relay vs demo", imLimit: 'lifted', customers: 100, pushes: 4000, demo: true },
  { name: 'as fast as the gateway answers', imLimit: 'lifted', pushes: Math.round(20_000 * SCALE) },
  { name: 'burst: as fast as the gateway answers, im-worker held until the end', imLimit: 'lifted', pushes: Math.round(20_000 * SCALE), burst: true },
  { name: '500 pushes/s', imLimit: 'lifted', pushes: Math.round(10_000 * SCALE), rate: 500 },
  { name: '1,000 pushes/s', imLimit: 'lifted', pushes: Math.round(20_000 * SCALE), rate: 1000 },
  { name: '1,000 pushes/s, 30% IM faults', imLimit: 'lifted', pushes: Math.round(20_000 * SCALE), rate: 1000, faults },
  { name: '100,000 messages at 1,000/s (memory)', imLimit: 'lifted', pushes: Math.round(100_000 * SCALE), rate: 1000, memorySamples: 10 },
];
const only = process.env['BENCH_ONLY'];
const rows: Row[] = [];
const comparisons: Comparison[] = [];
for (const s of scenarios) {
  // BENCH_ONLY: one run by its exact name, or every run whose name contains it.
  if (only !== undefined && s.name !== only && (scenarios.some((x) => x.name === only) || !s.name.includes(only))) continue;
  process.stderr.write(`running: ${s.name}\n`);
  const row = await run(s);
  rows.push(row);
  if (!s.demo) continue;
  process.stderr.write(`running: ${s.name}, the seed's demo\n`);
  const demo = await runDemo({ pushes: s.pushes, customers: row.customers, imLimit: s.imLimit, ...(s.rate === undefined ? {} : { rate: s.rate }) });
  comparisons.push({ name: s.name, paced: s.rate !== undefined, ...(s.storingAlone ? { storingAlone: true } : {}), relay: relaySide(row), demo });
}
process.stdout.write(report(rows, CONCURRENCY) + demoReport(comparisons));
