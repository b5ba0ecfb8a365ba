/**
 * IM's frequency limit as the simulator keeps it: at most `limit` calls of a command in any
 * window of one second (a sliding window: stricter than counting per calendar second), and a
 * count of the calls let through in each second, for tests and benchmarks to read.
 */
export class FrequencyLimiter {
  private readonly recent = new Map<string, { times: number[]; next: number }>();
  private readonly seconds = new Map<string, Map<number, number>>();

  admit(command: string, limit: number | undefined, now: number): boolean {
    if (limit !== undefined) {
      let ring = this.recent.get(command);
      if (ring === undefined || ring.times.length !== limit) {
        ring = { times: new Array<number>(limit).fill(-Infinity), next: 0 };
        this.recent.set(command, ring);
      }
      // The oldest of the last `limit` calls let through: within the second, this one is one too many.
      if (now - ring.times[ring.next]! < 1000) return false;
      ring.times[ring.next] = now;
      ring.next = (ring.next + 1) % limit;
    }
    let counts = this.seconds.get(command);
    if (counts === undefined) this.seconds.set(command, (counts = new Map<number, number>()));
    const second = Math.floor(now / 1000);
    counts.set(second, (counts.get(second) ?? 0) + 1);
    if (counts.size > 3600) counts.delete(counts.keys().next().value!);
    return true;
  }

  perSecond(): Record<string, [number, number][]> {
    return Object.fromEntries([...this.seconds].map(([command, counts]) => [command, [...counts]]));
  }
}
