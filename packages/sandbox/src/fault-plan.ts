import { randomInt } from 'node:crypto';

/** How a call can go wrong at a platform: an HTTP 500, a busy answer, the answer lost after the work was done, or a late answer. */
export type FaultKind = 'http500' | 'busy' | 'lost' | 'slow';

export interface Faults {
  /** Share of calls that meet a fault, 0..1. */
  rate: number;
  kinds: FaultKind[];
  /** How long a `slow` answer takes. */
  slowMs?: number;
}

/** What one call meets: the platform's error code answered without doing anything, or a fault kind. */
export type Met = { code: number; info: string } | { kind: FaultKind; ms: number } | undefined;

/**
 * A simulator's faults on demand: scripted ones per command or API first, in the order they were
 * scripted, else random ones at the rate set in `random`; every fault kind met is counted.
 */
export class FaultPlan {
  random: Faults = { rate: 0, kinds: [] };
  readonly counts: Record<FaultKind, number> = { http500: 0, busy: 0, lost: 0, slow: 0 };
  private readonly scripted: { name: string; fault: number | 'lost' | 'slow'; info: string; ms?: number }[] = [];

  /** The next `times` calls of `name` answer `fault` (an error code) without doing anything, or meet it (`lost`, `slow`). */
  failNext(name: string, fault: number | 'lost' | 'slow', times: number, info: string): void {
    for (let i = 0; i < times; i++) this.scripted.push({ name, fault, info });
  }

  /** The next `times` calls of `name` are done at once and answered `ms` later. */
  answerLate(name: string, ms: number, times: number): void {
    for (let i = 0; i < times; i++) this.scripted.push({ name, fault: 'slow', info: '', ms });
  }

  /** Forgets scripted faults not met yet. */
  clear(): void {
    this.scripted.length = 0;
  }

  /** What the next call of `name` meets. */
  next(name: string): Met {
    const at = this.scripted.findIndex((s) => s.name === name);
    const scripted = at >= 0 ? this.scripted.splice(at, 1)[0] : undefined;
    if (typeof scripted?.fault === 'number') return { code: scripted.fault, info: scripted.info };
    const kind = scripted?.fault ?? this.draw();
    if (kind === undefined) return undefined;
    this.counts[kind]++;
    return { kind, ms: scripted?.ms ?? this.random.slowMs ?? 300 };
  }

  private draw(): FaultKind | undefined {
    const { rate, kinds } = this.random;
    if (rate <= 0 || kinds.length === 0 || Math.random() >= rate) return undefined;
    return kinds[randomInt(kinds.length)]!;
  }
}
