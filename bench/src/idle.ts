import { startStack } from './lib/relay-stack.js';

/**
 * What the relay's processes spend doing nothing: Redis, the IM simulator, wechat-gateway and
 * im-worker started as `npm run bench` starts them, left alone for BENCH_IDLE_S seconds (20) after
 * BENCH_SETTLE_S (10) to settle, CPU (user + system from /proc/<pid>/stat) per second of each.
 * At a low steady rate this is paid again for every message (see docs/benchmarks.md).
 */
const settleS = Number(process.env['BENCH_SETTLE_S'] ?? 10);
const idleS = Number(process.env['BENCH_IDLE_S'] ?? 20);
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

const stack = await startStack('real');
try {
  await sleep(settleS);
  const before = stack.procs.map((p) => p.cpuSeconds());
  await sleep(idleS);
  const perSecond = stack.procs.map((p, i) => ((p.cpuSeconds() - before[i]!) / idleS) * 1000);
  const relay = stack.procs.reduce((sum, p, i) => (p.name === 'im-simulator' ? sum : sum + perSecond[i]!), 0);
  process.stdout.write(
    [
      `| idle for ${idleS} s after ${settleS} s | ${stack.procs.map((p) => p.name).join(' · ')} | Redis + gateway + im-worker |`,
      '|---|---|---:|',
      `| CPU ms per second | ${perSecond.map((ms) => ms.toFixed(1)).join(' · ')} | ${relay.toFixed(1)} |`,
      '',
    ].join('\n'),
  );
} finally {
  for (const p of stack.procs.slice().reverse()) await p.stop();
}
