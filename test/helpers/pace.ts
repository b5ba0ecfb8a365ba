export interface Pace {
  /** Calls in each whole second while there was work (the first and last, partial, seconds left out). */
  seconds: number[];
  mean: number;
  max: number;
}

/**
 * How many calls of `command` IM let through in each second, from the simulator's record
 * (`ImSimulator.callsPerSecond`): the whole seconds from `sinceMs` (epoch ms; default: the first
 * call) to the last call.
 */
export function paceOf(record: Record<string, [number, number][]>, command = 'openim/sendmsg', sinceMs?: number): Pace {
  const counts = new Map(record[command] ?? []);
  const all = [...counts.keys()];
  const first = sinceMs === undefined ? Math.min(...all) : Math.ceil(sinceMs / 1000) - 1;
  const last = Math.max(...all);
  const seconds: number[] = [];
  for (let s = first + 1; s < last; s++) seconds.push(counts.get(s) ?? 0);
  return { seconds, mean: seconds.reduce((a, b) => a + b, 0) / Math.max(1, seconds.length), max: Math.max(0, ...seconds) };
}
