import type { Side } from './demo-run.js';
import type { Row } from './relay-report.js';

/** The relay's processes whose CPU counts against the demo's one process. */
const RELAY_PROCESSES = ['wechat-gateway', 'im-worker', 'redis'];
/** Processes both sides have, shown apart and counted in neither. */
const BESIDE = ['im-simulator', 'load generator'];

/** A relay row as one side of the comparison: its CPU per push turned into CPU per message that reached IM. */
export function relaySide(r: Row): Side {
  const relayed = r.pushes - r.lost;
  return {
    pushes: r.pushes,
    ok: r.pushes - r.non200,
    nonSuccess: r.non200,
    seconds: r.pushes / r.pushesPerSecond,
    ackP50: r.ackP50,
    ackP99: r.ackP99,
    e2eP50: r.e2eP50,
    e2eP99: r.e2eP99,
    relayed,
    duplicated: r.duplicated,
    rateLimited: r.rateLimited,
    cpu: Object.fromEntries(Object.entries(r.cpu).map(([name, us]) => [name, (us * r.pushes) / relayed])),
  };
}

export interface Comparison {
  name: string;
  /** Pushed at a fixed rate (CPU per message is the figure to compare), or as fast as answered (how fast pushes are taken). */
  paced: boolean;
  /** The relay's side counts only storing the pushes (gateway and Redis, the im-worker stopped). */
  storingAlone?: boolean;
  relay: Side;
  demo: Side;
}

const sum = (cpu: Record<string, number>, names: string[]) => names.reduce((a, n) => a + (cpu[n] ?? 0), 0);
const relayCpu = (s: Side) => sum(s.cpu, RELAY_PROCESSES);
const demoCpu = (s: Side) => sum(s.cpu, ['demo']);
const answersPerSecond = (s: Side) => s.pushes / s.seconds;
const takenPerSecond = (s: Side) => s.ok / s.seconds;
const f = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '—');
const list = (cpu: Record<string, number>, names: string[]) => names.map((n) => `${n} ${f(cpu[n] ?? Number.NaN)}`).join(' · ');

function line(name: string, target: 'relay' | 'demo', s: Side): string {
  const [own, cpu] = target === 'relay' ? [RELAY_PROCESSES, relayCpu(s)] : [['demo'], demoCpu(s)];
  return (
    `| ${name} | ${target} | ${s.pushes} | ${s.ok} | ${s.nonSuccess} | ${Math.round(answersPerSecond(s))} | ${Math.round(takenPerSecond(s))} | ${f(s.ackP50)} | ${f(s.ackP99)} | ` +
    `${f(s.e2eP50)} | ${f(s.e2eP99)} | ${s.relayed} | ${s.pushes - s.relayed} | ${s.duplicated} | ${s.rateLimited} | ${Math.round(cpu)} | ${list(s.cpu, own)} | ${list(s.cpu, BESIDE)} |`
  );
}

const cpuRatio = (c: Comparison) =>
  c.storingAlone
    ? `CPU per push of storing it alone (gateway + Redis, no im-worker) ÷ the demo's per relayed message = ${(relayCpu(c.relay) / demoCpu(c.demo)).toFixed(2)}: ` +
      "the floor of a relay that acks only what it stored, against issue 19's ≤ 1.5 for the whole relay"
    : `CPU per relayed message, relay ÷ demo = ${(relayCpu(c.relay) / demoCpu(c.demo)).toFixed(2)} (issue 19: ≤ 1.5 at steady 150/s)`;
const takenRatio = (c: Comparison) =>
  `pushes per second, gateway ÷ demo = ${(takenPerSecond(c.relay) / takenPerSecond(c.demo)).toFixed(2)} counting the demo's \`success\` answers, ` +
  `${(takenPerSecond(c.relay) / answersPerSecond(c.demo)).toFixed(2)} counting all its answers (issue 19: ≥ 2), gateway ack p99 ${f(c.relay.ackP99)} ms (issue 19: ≤ 50)`;

/** The comparison's table, how it was measured, and the two ratios issue 19 sets targets for. */
export function demoReport(comparisons: Comparison[]): string {
  if (comparisons.length === 0) return '';
  const lines = [
    '',
    "Relay against the seed's demo (bench/src/demo-relay.ts): one Fastify process that, for each push, verifies the signature, decrypts, parses,",
    'imports the customer into IM on first sight, calls sendmsg and answers `success` once IM has answered (500 when IM refused it; no Redis, no queue, no retries).',
    "It runs right after the relay's row, on the same machine, from the same load generator, with the same warm-up, customers, pushes, rate and concurrency,",
    'against a fresh IM simulator process with the same limit.',
    'CPU: user + system time of each process from /proc/<pid>/stat, from the first push until the last message reached IM, divided by the messages that',
    "reached IM. The relay's is wechat-gateway + im-worker + Redis, the demo's its one process; the IM simulator and the load generator are shown apart, in neither.",
    'answers/s: pushes answered ÷ seconds from the first push sent to the last answered; taken/s: the same for the pushes answered 200. Ack: push sent (or due)',
    "→ answered. End-to-end: push sent (or due) → the IM simulator stored it. 60007 answers: calls the simulator refused as over IM's limit, warm-up included.",
    "In the burst rows the relay's CPU counts until its im-worker has relayed the last push at IM's pace; the demo's until it answered the last push.",
    "In the 'storing alone' row the im-worker is stopped while the pushes arrive: the relay's CPU is the gateway's and Redis's until the last push was answered.",
    '',
    '| run | target | pushes | answered 200 | non-success | answers/s | taken/s | ack p50 (ms) | ack p99 (ms) | end-to-end p50 (ms) | end-to-end p99 (ms) | reached IM | lost | duplicated | 60007 answers | CPU µs per relayed message | by process | beside (not counted) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|',
    ...comparisons.flatMap((c) => [line(c.name, 'relay', c.relay), line(c.name, 'demo', c.demo)]),
    '',
    ...comparisons.map((c) => `"${c.name}": ${c.paced ? cpuRatio(c) : `${takenRatio(c)}; ${cpuRatio(c)}`}.`),
  ];
  return `${lines.join('\n')}\n`;
}
