import { HttpConnection, postRequest } from './http-connection.js';

export interface LoadRequest {
  path: string;
  body: string;
}

export interface LoadResult {
  sent: number;
  ok: number;
  failed: number;
  seconds: number;
  perSecond: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  max: number;
  /** When each request was sent (or due, at a fixed rate), ms since the epoch, in request order. */
  startedAt: Float64Array;
  /** When each request was answered, ms since the epoch, in request order. */
  answeredAt: Float64Array;
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Closed-loop load: `concurrency` workers over keep-alive connections, each sending the next
 * request as soon as its previous one is answered. With `ratePerSecond`, requests start on a
 * fixed schedule instead (open loop) and latency counts from the scheduled time. Requests are
 * turned into bytes before the clock starts; see HttpConnection.
 */
export async function runLoad(origin: string, requests: LoadRequest[], concurrency: number, ratePerSecond?: number): Promise<LoadResult> {
  const { host, hostname, port } = new URL(origin);
  const wire = requests.map((r) => postRequest(host, r.path, r.body, 'text/xml'));
  const connections: HttpConnection[] = [];
  const latencies = new Float64Array(requests.length);
  const answeredAt = new Float64Array(requests.length);
  const startedAt = new Float64Array(requests.length);
  let next = 0;
  let ok = 0;
  let failed = 0;
  const start = performance.now();
  const epochAtStart = Date.now();
  async function worker() {
    const connection = new HttpConnection(hostname, Number(port));
    connections.push(connection);
    for (;;) {
      const i = next++;
      if (i >= requests.length) return;
      let begin = performance.now();
      if (ratePerSecond !== undefined) {
        // Sleep in steps of at least 2 ms: a timer per request would cost the machine more than it measures.
        const due = start + (i * 1000) / ratePerSecond;
        if (due > begin) await new Promise((r) => setTimeout(r, Math.max(2, due - begin)));
        begin = Math.min(performance.now(), due);
      }
      startedAt[i] = epochAtStart + (begin - start);
      try {
        if ((await connection.send(wire[i]!)) === 200) ok++;
        else failed++;
      } catch {
        failed++;
      }
      const end = performance.now();
      latencies[i] = end - begin;
      answeredAt[i] = epochAtStart + (end - start);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  for (const c of connections) c.close();
  const sorted = Float64Array.from(latencies).sort();
  return {
    sent: requests.length,
    ok,
    failed,
    seconds,
    perSecond: requests.length / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? 0,
    startedAt,
    answeredAt,
  };
}
