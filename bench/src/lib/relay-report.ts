import { availableParallelism, cpus } from 'node:os';
import { APPENDFSYNC } from './processes.js';

export interface Row {
  name: string;
  pushes: number;
  customers: number;
  imLimit: 'real' | 'lifted';
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
  /** Burst and backlog runs: how fast the im-worker relayed the backlog once let go, messages/s. */
  drainPerSecond?: number;
  /** sendmsg calls IM let through per whole second while the run's messages reached it: mean and highest. */
  imPace: { mean: number; max: number };
  /** Calls IM answered 60007 (over its frequency limit). */
  rateLimited: number;
  rss: Record<string, number>;
  /** CPU µs per push, by process, from the first push until the last reached IM. */
  cpu: Record<string, number>;
  memory?: { sent: number; mb: number }[];
  /** Memory runs: Redis killed at the end and started again on its AOF. */
  restart?: { aofMb: number; seconds: number };
}

const f = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '—');

/** One figure per process for every run, e.g. CPU or RSS. */
function perProcessTable(rows: Row[], title: string, figures: (r: Row) => Record<string, number>): string[] {
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

/** The benchmark's tables, as docs/benchmarks.md carries them. */
export function report(rows: Row[], concurrency: number): string {
  const lines = [
    `Relay benchmark: safe-mode pushes at concurrency ${concurrency}; each row on a fresh Redis (appendfsync ${APPENDFSYNC}), IM simulator, gateway and im-worker, each its own process.`,
    `Machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}; every process and the load generator share the cores.`,
    "IM limit: 'IM's' = the simulator answers 60007 above 200 calls/s per command (100/s for account_delete) and the relay runs with its default IM_RATE_LIMIT (180); 'lifted' = neither limit, for rows that need more than IM allows.",
    '',
    '| run | IM limit | customers | pushes | pushes/s | ack p50 (ms) | ack p99 (ms) | end-to-end p50 (ms) | end-to-end p99 (ms) | IM sendmsg/s: mean, top second | 60007 answers | lost | duplicated | non-200 | waited their turn (%) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.imLimit === 'real' ? "IM's" : 'lifted'} | ${r.customers} | ${r.pushes} | ${Math.round(r.pushesPerSecond)} | ${f(r.ackP50)} | ${f(r.ackP99)} | ${f(r.e2eP50)} | ${f(r.e2eP99)} | ${f(r.imPace.mean)}, ${r.imPace.max} | ${r.rateLimited} | ${r.lost} | ${r.duplicated} | ${r.non200} | ${r.waitedTurn.toFixed(1)} |`,
    ),
    '',
    ...perProcessTable(rows, 'CPU µs per push', (r) => r.cpu),
    '',
    ...perProcessTable(rows, 'peak RSS (MB)', (r) => r.rss),
    ...rows
      .filter((r) => r.drainPerSecond !== undefined)
      .map((r) => `\n"${r.name}": once let go, the im-worker relayed the backlog at ${Math.round(r.drainPerSecond!)} messages/s (first message to last).`),
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
    "Targets: 0 lost, 0 duplicated and 0 answers 60007 in every run; at IM's limit, steady 150/s: end-to-end p99 ≤ 50 ms and ack p99 ≤ 25 ms, a backlog of 3,000 drains at ≥ 95% of IM_RATE_LIMIT (171/s); limit lifted: ≥ 3,000 pushes/s through the gateway, end-to-end p99 < 100 ms at 1,000 pushes/s, Redis memory flat over 100,000 messages.",
  ];
  return `${lines.join('\n')}\n`;
}
