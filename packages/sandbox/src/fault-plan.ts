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
export type Met = { code: number; info: string; ms?: number } | { kind: FaultKind; ms: number } | undefined;

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

  /** The next `times` calls of `name` answer the error code `code`, `ms` later, without doing anything. */
  refuseLate(name: string, code: number, ms: number, times: number, info: string): void {
    for (let i = 0; i < times; i++) this.scripted.push({ name, fault: code, info, ms });
  }

  /** Forgets scripted faults not met yet. */
  clear(): void {
    this.scripted.length = 0;
  }

  /** What the next call of `name` meets. */
  next(name: string): Met {
    const at = this.scripted.findIndex((s) => s.name === name);
    const scripted = at >= 0 ? this.scripted.splice(at, 1)[0] : undefined;
    if (typeof scripted?.fault === 'number') return { code: scripted.fault, info: scripted.info, ...(scripted.ms === undefined ? {} : { ms: scripted.ms }) };
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

/**
 * What a simulator offers tests and the sandbox to make calls go wrong: `failNext`, `answerLate`,
 * `clearScripted` and the random `faults`. A call is named by its IM command (`openim/sendmsg`) or
 * WeChat API (`message/custom/send`).
 */
export abstract class FaultInjecting {
  /** Scripted and random faults; `faults` sets the random ones. */
  protected readonly plan = new FaultPlan();

  /**
   * The next `times` calls of `name` answer the error code `fault` without doing anything; with
   * `'lost'` they do it and the connection is destroyed before the answer; with `'slow'` they do
   * it and answer late.
   */
  failNext(name: string, fault: number | 'lost' | 'slow', times = 1, info = 'scripted failure'): void {
    this.plan.failNext(name, fault, times, info);
  }

  /** The next `times` calls of `name` are done at once and answered `ms` later. */
  answerLate(name: string, ms: number, times = 1): void {
    this.plan.answerLate(name, ms, times);
  }

  /** The next `times` calls of `name` answer the error code `code` `ms` late, without doing anything (a refusal the caller waits for). */
  refuseLate(name: string, code: number, ms: number, times = 1, info = 'scripted failure'): void {
    this.plan.refuseLate(name, code, ms, times, info);
  }

  /** Forgets scripted faults not met yet. */
  clearScripted(): void {
    this.plan.clear();
  }

  /** The random faults: a share of calls that meet one of the kinds. */
  get faults(): Faults {
    return this.plan.random;
  }

  set faults(faults: Faults) {
    this.plan.random = faults;
  }
}
