import { FleetLock, type StateKeys } from '@wxim/relay';
import type { Redis, Cluster } from 'ioredis';
import type { CallbackWatch, Gap } from './callback-watch.js';
import type { HistoryScan, Range } from './history-scan.js';

/** WeChat's longest reply window: a reply older than this could not be delivered, so is not looked for. */
export const HORIZON_MS = 48 * 3600 * 1000;
/** Messages are looked for a little either side of a gap: they were sent a moment before their callback, on IM's clock. */
export const MARGIN_MS = 2 * 60 * 1000;
/** One recovery at a time across the fleet; renewed while it runs. */
const LOCK_MS = 60 * 1000;

export interface RecoveryDeps {
  redis: Redis | Cluster;
  keys: StateKeys;
  watch: CallbackWatch;
  scan: HistoryScan;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
  /** Replies stored that had not been (their callbacks were missed). */
  onRecovered: (n: number) => void;
}

/** The gaps as time ranges to look through: with the margin, within the horizon, overlapping ones joined. */
export function rangesOf(gaps: readonly Gap[], now: number): { range: Range; gaps: Gap[] }[] {
  const ranges: { range: Range; gaps: Gap[] }[] = [];
  for (const gap of [...gaps].sort((a, b) => a.from - b.from)) {
    const range = { from: Math.max(gap.from - MARGIN_MS, now - HORIZON_MS), to: gap.to + MARGIN_MS };
    const last = ranges.at(-1);
    if (last !== undefined && range.from <= last.range.to) {
      last.range.to = Math.max(last.range.to, range.to);
      last.gaps.push(gap);
    } else ranges.push({ range, gaps: [gap] });
  }
  return ranges;
}

/**
 * After a gap in which IM's callbacks may have been missed (see CallbackWatch), looks through
 * IM's history of every conversation that could have had replies in it — customers who acted in
 * the last 48 hours, with their agent — and stores each agent reply in the gap the relay never
 * stored, oldest first. A gap is resolved only once every conversation was looked through.
 */
export class CallbackRecovery {
  private running: Promise<void> | undefined;
  private again = false;
  private readonly lock: FleetLock;

  constructor(private readonly deps: RecoveryDeps) {
    this.lock = new FleetLock(deps.redis, `${deps.keys.callbackGaps}:lock`, LOCK_MS);
  }

  /** Runs a recovery now, or once more after the one running. */
  trigger(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.runAll()
      .catch((err: Error) => this.deps.log.warn({ reason: err.message }, 'callback recovery stopped; it runs again at the next beat'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.trigger();
        }
      });
  }

  /** Resolves when no recovery is running. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async runAll(): Promise<void> {
    const { redis, keys, watch, scan } = this.deps;
    const held = await this.lock.take();
    if (held === undefined) return; // another instance is at it; a gap it leaves is seen at a later beat
    try {
      const now = Date.now();
      for (const { range, gaps } of rangesOf(await watch.gaps(), now)) {
        const customers = range.from < range.to ? await redis.zrangebyscore(keys.recentCustomers, now - HORIZON_MS, '+inf') : [];
        const found = await scan.conversations(
          customers.map((openid) => ({ openid })),
          range,
          'recovery',
          async () => {
            if (!(await held.renew())) throw new Error('the recovery lock was lost');
          },
        );
        for (const gap of gaps) await watch.resolved(gap);
        this.deps.onRecovered(found);
        this.deps.log.info(
          { from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString(), conversations: customers.length, recovered: found },
          'looked through IM history for replies whose callbacks may have been missed',
        );
      }
    } finally {
      await held.release();
    }
  }
}
