import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { QUEUES, queueLayout } from '@wxim/queue';
import { SANDBOX, WechatPlatform, type PushMode, fakeOpenId } from '@wxim/sandbox';
import { type LoadRequest, runLoad } from './lib/load.js';
import { APPENDFSYNC, freePort, startNode, startRedis } from './lib/processes.js';

/**
 * Gateway benchmark: the gateway as its own process with its own Redis (AOF, see startRedis), signed
 * text pushes at concurrency 32 from this process, against the ceiling of a bare Fastify route.
 */
const N = Number(process.env['BENCH_PUSHES'] ?? 40_000);
const WARMUP = Math.min(5000, Math.floor(N / 5));
const CONCURRENCY = 32;
const CUSTOMERS = 1000;

function pushes(gatewayUrl: string, mode: PushMode, count: number): LoadRequest[] {
  const wx = new WechatPlatform({ gatewayUrl, token: SANDBOX.token, appId: SANDBOX.appId, encodingAesKey: SANDBOX.encodingAesKey, mode });
  const customers = Array.from({ length: CUSTOMERS }, fakeOpenId);
  return Array.from({ length: count }, (_, i) => wx.sign(wx.text(customers[i % CUSTOMERS]!, `message ${i} 你好 🙂`)));
}

async function measure(name: string, origin: string, mode: PushMode) {
  await runLoad(origin, pushes(origin, mode, WARMUP), CONCURRENCY);
  const requests = pushes(origin, mode, N);
  const cpu0 = process.cpuUsage();
  const result = await runLoad(origin, requests, CONCURRENCY);
  const cpu = process.cpuUsage(cpu0);
  return { name, ...result, generatorCpu: (cpu.user + cpu.system) / N };
}

const rows: {
  name: string;
  perSecond: number;
  p50: number;
  p99: number;
  failed: number;
  ok: number;
  rss?: number;
  stored?: number;
  cpu?: { gateway: number; redis: number };
  generatorCpu: number;
}[] = [];

const ceilingPort = await freePort();
const ceiling = await startNode(
  'ceiling',
  fileURLToPath(new URL('./ceiling-server.js', import.meta.url)),
  { PORT: String(ceilingPort) },
  `http://127.0.0.1:${ceilingPort}/healthz`,
);
const ceilingCpu0 = ceiling.cpuSeconds();
const ceilingRow = await measure('bare Fastify route (ceiling)', `http://127.0.0.1:${ceilingPort}`, 'plain');
rows.push({ ...ceilingRow, rss: ceiling.peakRssMb(), cpu: { gateway: ((ceiling.cpuSeconds() - ceilingCpu0) * 1e6) / (N + WARMUP), redis: 0 } });
await ceiling.stop();

for (const mode of ['plain', 'safe'] as const) {
  const redis = await startRedis();
  const port = await freePort();
  const gatewayEntry = fileURLToPath(new URL('../../services/wechat-gateway/dist/main.js', import.meta.url));
  const env = {
    REDIS_URL: redis.url,
    GATEWAY_PORT: String(port),
    WECHAT_TOKEN: SANDBOX.token,
    WECHAT_APP_ID: SANDBOX.appId,
    WECHAT_ENCODING_AES_KEY: SANDBOX.encodingAesKey,
  };
  const gateway = await startNode('wechat-gateway', gatewayEntry, env, `http://127.0.0.1:${port}/readyz`);
  const cpu0 = { gw: gateway.cpuSeconds(), redis: redis.cpuSeconds() };
  const row = await measure(`wechat-gateway, ${mode} pushes`, `http://127.0.0.1:${port}`, mode);
  const cpuPerPush = { gateway: ((gateway.cpuSeconds() - cpu0.gw) * 1e6) / (N + WARMUP), redis: ((redis.cpuSeconds() - cpu0.redis) * 1e6) / (N + WARMUP) };
  // The gateway's default QUEUE_PREFIX.
  const stored = await redis.client.llen(queueLayout('wxim', QUEUES.wechatInbound).wait);
  rows.push({ ...row, rss: gateway.peakRssMb(), stored, cpu: cpuPerPush });
  await gateway.stop();
  await redis.stop();
}

const ceilingRate = rows[0]!.perSecond;
const cpu = cpus()[0]?.model ?? 'unknown CPU';
const lines = [
  `Gateway benchmark: ${N} signed text pushes per row after ${WARMUP} warm-up, concurrency ${CONCURRENCY}, ${CUSTOMERS} customers; Redis with appendfsync ${APPENDFSYNC}.`,
  `Machine: ${availableParallelism()} cores (${cpu}), Node ${process.version}; load generator, server and Redis share the cores.`,
  '',
  '| target | pushes/s | ack p50 (ms) | ack p99 (ms) | ratio to ceiling | non-200 | stored jobs | peak RSS (MB) | CPU µs/push: server, Redis, load generator |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.name} | ${Math.round(r.perSecond)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${(r.perSecond / ceilingRate).toFixed(2)} | ${r.failed} | ${r.stored ?? '—'} | ${r.rss?.toFixed(0) ?? '—'} | ${r.cpu ? `${r.cpu.gateway.toFixed(0)}, ${r.cpu.redis.toFixed(0)}` : '—'}, ${r.generatorCpu.toFixed(0)} |`,
  ),
  '',
  `Targets: at least 0.5 of the ceiling, ack p99 under 25 ms; stored jobs = pushes sent (${N + WARMUP}) for the gateway rows.`,
];
process.stdout.write(`${lines.join('\n')}\n`);
