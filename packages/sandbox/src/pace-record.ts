/** Calls of one command in each whole second of a span: what IM's limit saw then. */
export interface Pace {
  /** Calls in each whole second (the partial first and last seconds left out). */
  seconds: number[];
  mean: number;
  /**
   * The middle second's calls: what the pace holds to in most seconds. A test of a budget used in
   * full asks for it, so that a second or two where a shared machine stalled every process (the
   * simulator's, the caller's) does not read as a budget left unused.
   */
  median: number;
  max: number;
}

/**
 * Reads the simulator's record of calls per second (`ImSimulator.callsPerSecond`, `/sim/pace`)
 * for `command`: the whole seconds after the one `fromMs` falls in and before the one `toMs` falls
 * in (epoch ms; by default the first and last seconds with calls).
 */
export function paceOf(record: Record<string, [number, number][]>, command: string, fromMs?: number, toMs?: number): Pace {
  const counts = new Map(record[command] ?? []);
  const first = fromMs === undefined ? Math.min(...counts.keys()) : Math.floor(fromMs / 1000);
  const last = toMs === undefined ? Math.max(...counts.keys()) : Math.floor(toMs / 1000);
  const seconds: number[] = [];
  for (let s = first + 1; s < last; s++) seconds.push(counts.get(s) ?? 0);
  const sorted = [...seconds].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length === 0 ? Number.NaN : sorted.length % 2 === 1 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { seconds, mean: seconds.length === 0 ? Number.NaN : seconds.reduce((a, b) => a + b, 0) / seconds.length, median, max: Math.max(0, ...seconds) };
}
