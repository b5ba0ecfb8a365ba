import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createDashboard } from '@wxim/dashboard';
import { fakeOpenId } from '@wxim/sandbox';
import { LocalRedis, converse, eventually, startTwoWay } from '@wxim/testkit';
import t from 'tap';
import { stringify } from 'yaml';

/*
 * The alert scenarios of deploy/prometheus/alerts.yml, from what the services really export: the
 * relay runs against the simulators and its own redis-server, healthy for a few seconds and then
 * with the fault on; every service's /metrics is scraped over HTTP at each phase's ends, and the
 * measured rates and values are stretched into hours of promtool input series (counters at their
 * measured rate, ages growing with the clock, other gauges as read). promtool then says which
 * alerts fire when. A renamed or lost metric leaves its alert silent and the scenario fails.
 */

const ALERTS = fileURLToPath(new URL('../../deploy/prometheus/alerts.yml', import.meta.url));
const HEALTHY_MINUTES = 10;

type Sample = Map<string, number>; // series ("name{labels}") → value
interface Scrape {
  at: number;
  series: Sample;
}

/** The wxim_ series of one /metrics page, each labelled with the job and instance Prometheus would give it. */
function parseMetrics(text: string, job: string, instance: string): Sample {
  const out: Sample = new Map();
  for (const line of text.split('\n')) {
    const m = /^(wxim_[A-Za-z0-9_]+)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels = [`job="${job}"`, `instance="${instance}"`, ...(m[2] ? [m[2]] : [])].join(', ');
    out.set(`${m[1]}{${labels}}`, Number(m[3]));
  }
  return out;
}

interface Target {
  job: string;
  url: string;
}

async function scrape(targets: readonly Target[]): Promise<Scrape> {
  const series: Sample = new Map();
  for (const { job, url } of targets) {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(8000) });
    for (const [k, v] of parseMetrics(await res.text(), job, new URL(url).host)) series.set(k, v);
  }
  return { at: Date.now(), series };
}

/** The values `scrape` read of `metric`'s series that carry `label` (e.g. 'class="transient"'). */
function valuesOf(scraped: Scrape, metric: string, label = ''): number[] {
  return [...scraped.series].filter(([k]) => k.startsWith(`${metric}{`) && k.includes(label)).map(([, v]) => v);
}

/** Whether some series of `metric` with `label` has reached `min`, scraped now. */
async function reached(targets: readonly Target[], metric: string, label: string, min: number): Promise<boolean> {
  return valuesOf(await scrape(targets), metric, label).some((v) => v >= min);
}

const isCounter = (series: string) => /^wxim_\w+(_total|_bucket|_count|_sum)\{/.test(series);
const isAge = (series: string) => /^wxim_\w*oldest\w*_seconds\{/.test(series);

/**
 * Promtool input series, one sample a minute: `healthy` minutes at the rates measured between
 * `a` and `b`, then `faulty` minutes at those measured between `b` and `c`. Targets are up all along.
 */
/**
 * `once`: the fault was a moment, not a state: what changed between `b` and `c` happens once, at
 * the fault's first minute, and the healthy rates go on after it.
 */
function extrapolate(a: Scrape, b: Scrape, c: Scrape, faulty: number, targets: readonly Target[], once = false) {
  const names = new Set([...a.series.keys(), ...b.series.keys(), ...c.series.keys()]);
  const input = [...names].map((series) => {
    const values: number[] = [];
    const va = a.series.get(series) ?? 0;
    const vb = b.series.get(series) ?? va;
    const vc = c.series.get(series) ?? vb;
    const healthyRate = (vb - va) / ((b.at - a.at) / 1000);
    const faultyRate = (vc - vb) / ((c.at - b.at) / 1000);
    let value = va;
    for (let m = 0; m < HEALTHY_MINUTES; m++) {
      values.push(isCounter(series) ? value : vb);
      if (isCounter(series)) value += healthyRate * 60;
    }
    for (let m = 0; m <= faulty; m++) {
      if (once && isCounter(series)) {
        if (m === 1) value += vc - vb;
        values.push(value);
        value += healthyRate * 60;
        continue;
      }
      if (isCounter(series)) values.push(value);
      // An age grows with the clock while something is there to be old (0: nothing is).
      else if (isAge(series) && vc > 0) values.push(vc + 60 * m);
      else values.push(vc);
      if (isCounter(series)) value += faultyRate * 60;
    }
    return { series, values: values.map((v) => (Number.isFinite(v) ? String(Math.round(v * 1000) / 1000) : 'NaN')).join(' ') };
  });
  for (const { job, url } of targets) input.push({ series: `up{job="${job}", instance="${new URL(url).host}"}`, values: `1x${HEALTHY_MINUTES + faulty}` });
  return input;
}

/** The page alerts firing at each of `minutes` (from the start of the series), as promtool evaluates alerts.yml. */
async function pagesAt(input: ReturnType<typeof extrapolate>, minutes: readonly number[]): Promise<Map<number, Set<string>>> {
  const dir = mkdtempSync(join(tmpdir(), 'wxim-alerts-'));
  try {
    const file = join(dir, 'scenario.test.yml');
    // Each check expects nothing, so promtool prints what it got: the firing page alerts.
    const tests = [
      {
        interval: '1m',
        input_series: input,
        promql_expr_test: minutes.map((m) => ({ expr: 'ALERTS{alertstate="firing", severity="page"}', eval_time: `${m}m`, exp_samples: [] })),
      },
    ];
    writeFileSync(file, stringify({ rule_files: [ALERTS], evaluation_interval: '1m', tests }));
    const output = await promisify(execFile)('promtool', ['test', 'rules', file], { timeout: 120_000 }).then(
      (r) => r.stdout + r.stderr,
      (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
    );
    const pages = new Map<number, Set<string>>(minutes.map((m) => [m, new Set<string>()]));
    for (const block of output.split(/\n\s*expr: /).slice(1)) {
      const time = /time: (?:(\d+)h)?(?:(\d+)m)?/.exec(block);
      if (!time) continue;
      const minute = Number(time[1] ?? 0) * 60 + Number(time[2] ?? 0);
      for (const m of block.matchAll(/alertname="(\w+)"/g)) pages.get(minute)?.add(m[1]!);
    }
    return pages;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const redis = await LocalRedis.start();
t.teardown(() => redis.close());

async function startRecordedRelay(t: { teardown(fn: () => Promise<void>): void }) {
  const relay = await startTwoWay(redis.url);
  const dashboard = await createDashboard(relay.gateway.config);
  await dashboard.app.listen({ host: '127.0.0.1', port: 0 });
  for (const app of [relay.worker.app, relay.pusher.app]) await app.listen({ host: '127.0.0.1', port: 0 });
  const url = (app: { server: { address(): unknown } }) => `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const targets: Target[] = [
    { job: 'wechat-gateway', url: relay.gateway.url },
    { job: 'im-worker', url: url(relay.worker.app) },
    { job: 'im-callback', url: new URL(relay.callbackUrl).origin },
    { job: 'wechat-pusher', url: url(relay.pusher.app) },
    { job: 'dashboard', url: url(dashboard.app) },
  ];
  t.teardown(async () => {
    await dashboard.close();
    await relay.close();
  });
  return { relay, targets };
}

/** Customers write for a while, healthy; scrapes before and after. */
async function healthyPhase(relay: Awaited<ReturnType<typeof startTwoWay>>, targets: Target[]) {
  const a = await scrape(targets);
  const before = relay.im.messages.length;
  await converse(relay.wechat, 5, 4);
  await eventually('the healthy messages reached IM', () => relay.im.messages.length >= before + 20, 30_000);
  return { a, b: await scrape(targets) };
}

t.test('IM answering 500 for two hours while customers write pages within 15 minutes, and keeps paging', async (t) => {
  const { relay, targets } = await startRecordedRelay(t);
  const { a, b } = await healthyPhase(relay, targets);
  relay.im.faults = { rate: 1, kinds: ['http500'] };
  await converse(relay.wechat, 5, 4);
  await eventually('the worker retries', () => reached(targets, 'wxim_im_retries_total', 'class="transient"', 10), 30_000, 200);
  const c = await scrape(targets);
  relay.im.faults = { rate: 0, kinds: [] };
  const pages = await pagesAt(extrapolate(a, b, c, 120, targets), [HEALTHY_MINUTES - 1, HEALTHY_MINUTES + 15, HEALTHY_MINUTES + 120]);
  t.same([...pages.get(HEALTHY_MINUTES - 1)!], [], 'no page while healthy');
  const at15 = pages.get(HEALTHY_MINUTES + 15)!;
  t.ok(at15.size > 0, `paged within 15 minutes: ${[...at15].join(', ')}`);
  t.ok(at15.has('WximRelaysStopped'), 'relays stopped while pushes arrive');
  t.ok(at15.has('WximImRetrying'), 'retries of the transient class');
  const at120 = pages.get(HEALTHY_MINUTES + 120)!;
  t.ok(at120.has('WximRelaysStopped') && at120.has('WximQueueDelayedStuck'), `still paging after two hours: ${[...at120].join(', ')}`);
});

t.test('a wrong IM key (70003) pages at once', async (t) => {
  const { relay, targets } = await startRecordedRelay(t);
  const { a, b } = await healthyPhase(relay, targets);
  relay.im.failNext('openim/sendmsg', 70003, 1000, 'wrong key');
  await converse(relay.wechat, 3, 2);
  await eventually('the worker meets the configuration error', () => reached(targets, 'wxim_im_retries_total', 'class="configuration"', 3), 30_000, 200);
  const c = await scrape(targets);
  relay.im.clearScripted();
  const pages = await pagesAt(extrapolate(a, b, c, 30, targets), [HEALTHY_MINUTES - 1, HEALTHY_MINUTES + 2]);
  t.same([...pages.get(HEALTHY_MINUTES - 1)!], [], 'no page while healthy');
  t.ok(pages.get(HEALTHY_MINUTES + 2)!.has('WximImCredentialErrors'), `paged within 2 minutes: ${[...pages.get(HEALTHY_MINUTES + 2)!].join(', ')}`);
});

t.test('Redis down for 20 minutes pages, and the page stays while it is down', async (t) => {
  const { relay, targets } = await startRecordedRelay(t);
  const { a, b } = await healthyPhase(relay, targets);
  await redis.stop();
  let c: Scrape;
  try {
    c = await scrape(targets);
  } finally {
    await redis.start();
  }
  t.ok(
    valuesOf(c, 'wxim_redis_up').some((v) => v === 0),
    'the services said Redis was down',
  );
  const pages = await pagesAt(extrapolate(a, b, c, 20, targets), [HEALTHY_MINUTES - 1, HEALTHY_MINUTES + 5, HEALTHY_MINUTES + 20]);
  t.same([...pages.get(HEALTHY_MINUTES - 1)!], [], 'no page while healthy');
  t.ok(pages.get(HEALTHY_MINUTES + 5)!.has('WximRedisDown'), `paged within 5 minutes: ${[...pages.get(HEALTHY_MINUTES + 5)!].join(', ')}`);
  t.ok(pages.get(HEALTHY_MINUTES + 20)!.has('WximRedisDown'), 'still paging after 20 minutes');
});

t.test('a single 503 while Redis blinks pages nobody', async (t) => {
  const { relay, targets } = await startRecordedRelay(t);
  const { a, b } = await healthyPhase(relay, targets);
  await redis.stop();
  let answered: number;
  try {
    answered = (await relay.wechat.push(relay.wechat.text(fakeOpenId(), 'during the blink'))).status;
  } finally {
    await redis.start();
  }
  t.equal(answered, 503, 'the gateway answered 503 while Redis was down');
  await eventually('Redis is back for the services', async () => valuesOf(await scrape(targets), 'wxim_redis_up').every((v) => v === 1), 30_000, 200);
  const c = await scrape(targets);
  t.ok(
    valuesOf(c, 'wxim_gateway_requests_total', 'outcome="unavailable"').some((v) => v === 1),
    'the gateway counted one unavailable push',
  );
  const pages = await pagesAt(extrapolate(a, b, c, 30, targets, true), [HEALTHY_MINUTES + 1, HEALTHY_MINUTES + 5, HEALTHY_MINUTES + 15]);
  for (const [minute, fired] of pages) t.same([...fired], [], `no page at minute ${minute}`);
});

t.test('relays failing for good page from the counters, even with the failed-jobs gauge at its cap', async (t) => {
  const { relay, targets } = await startRecordedRelay(t);
  const { a, b } = await healthyPhase(relay, targets);
  // 80001: IM refuses the content; a permanent error, so each job fails at once.
  relay.im.failNext('openim/sendmsg', 80001, 1000, 'content refused');
  await converse(relay.wechat, 3, 2);
  await eventually('the relays failed', () => reached(targets, 'wxim_im_relayed_total', 'outcome="failed"', 6), 30_000, 200);
  const c = await scrape(targets);
  relay.im.clearScripted();
  // Past the retention cap the failed-jobs gauge no longer moves: the series keep it as read.
  const input = extrapolate(a, b, c, 30, targets);
  const failedGauge = input.filter(
    (s) => s.series.startsWith('wxim_queue_jobs{') && s.series.includes('state="failed"') && s.series.includes('queue="wechat-inbound"'),
  );
  t.ok(
    failedGauge.length > 0 && failedGauge.every((s) => new Set(s.values.split(' ').slice(HEALTHY_MINUTES)).size === 1),
    'the failed-jobs gauge stands still',
  );
  const pages = await pagesAt(input, [HEALTHY_MINUTES - 1, HEALTHY_MINUTES + 15]);
  t.same([...pages.get(HEALTHY_MINUTES - 1)!], [], 'no page while healthy');
  t.ok(pages.get(HEALTHY_MINUTES + 15)!.has('WximInboundRelaysFailed'), `paged: ${[...pages.get(HEALTHY_MINUTES + 15)!].join(', ')}`);
});
