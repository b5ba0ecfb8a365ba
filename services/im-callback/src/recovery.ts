import type { FleetLock } from '@wxim/state';
import type { ActiveConversations } from './active-conversations.js';
import type { CallbackWatch, Gap } from './callback-watch.js';
import { HORIZON_MS, type HistoryScan, MARGIN_MS, type Range } from './history-scan.js';
import { type OwedLooks, merged } from './owed-looks.js';

export interface RecoveryDeps {
  watch: CallbackWatch;
  scan: HistoryScan;
  active: ActiveConversations;
  owed: OwedLooks;
  /** The fleet's one look through IM's history at a time (shared with the sweep). */
  lock: FleetLock;
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
 * IM's history of the conversations that had a message since the gap began (ActiveConversations;
 * when an agent's conversation list may have lost some to IM's cap, every customer who acted in
 * the last 48 hours), with the looks owed from earlier failures, and stores each agent reply in
 * the gap the relay never stored, oldest first. A gap is resolved once every conversation was
 * looked through or, where IM kept failing for one, owed a look later. The looks owed before it
 * are read too, and left owed for the next sweep (see runAll).
 */
export class CallbackRecovery {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(private readonly deps: RecoveryDeps) {}

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
    const { watch, scan, owed } = this.deps;
    const held = await this.deps.lock.take();
    if (held === undefined) return; // a sweep or another recovery is looking; the gap waits for a later beat
    try {
      const now = Date.now();
      for (const { range, gaps } of rangesOf(await watch.gaps(), now)) {
        const active = await this.deps.active.since(range.from, held.keep);
        // A list that may have lost conversations to IM's cap, or could not be read: everyone who
        // could have had a reply then, with their own agent and each agent whose list was capped.
        const everyone = active.complete ? [] : await this.deps.active.everyone(now, active.capped);
        const taken = await owed.all();
        const customers = merged(active.customers, everyone, taken);
        const result = await scan.conversations(customers, range, 'recovery', held.keep);
        // The looks owed stay owed: this one read them only to its gap's end, and the next sweep
        // may begin later than that (it reads from where the sweeps stopped), so only a sweep,
        // which reads up to now, settles them. Those IM failed for here join them.
        await owed.settle([], result.failed);
        for (const gap of gaps) await watch.resolved(gap);
        this.deps.onRecovered(result.found);
        this.deps.log.info(
          {
            from: new Date(range.from).toISOString(),
            to: new Date(range.to).toISOString(),
            conversations: customers.length,
            recovered: result.found,
            owed: result.failed.length,
          },
          'looked through IM history for replies whose callbacks may have been missed',
        );
      }
    } finally {
      await held.release();
    }
  }
}
