import { whileRedisAway } from './redis-away.js';

/**
 * Tries made while Redis is away (see whileRedisAway), kept in the order they began: a try that
 * begins while earlier ones wait to be tried again waits for them first, at most until its own
 * deadline. Without it a later request, asking at once, reaches Redis the moment it is back, ahead
 * of an earlier one still in its 100 ms wait: a customer's second message stored before their
 * first. While Redis answers, nothing waits and nothing is kept.
 */
export class InOrderWhileAway {
  /** Each settles when its try, which met Redis away, has settled. */
  private readonly retrying = new Set<Promise<void>>();

  async run<R>(deadline: number, attempt: () => Promise<R>, retrying?: () => void): Promise<R> {
    if (this.retrying.size > 0) await settledBefore(Promise.all(this.retrying), deadline);
    let mine: { settled: Promise<void>; settle: () => void } | undefined;
    try {
      return await whileRedisAway(deadline, attempt, () => {
        if (mine === undefined) {
          let settle!: () => void;
          mine = { settled: new Promise<void>((resolve) => (settle = resolve)), settle };
          this.retrying.add(mine.settled);
        }
        retrying?.();
      });
    } finally {
      if (mine !== undefined) {
        this.retrying.delete(mine.settled);
        mine.settle();
      }
    }
  }
}

/** Waits for `earlier`, or until `deadline` (ms) at most. */
async function settledBefore(earlier: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))));
  try {
    await Promise.race([earlier, late]);
  } finally {
    clearTimeout(timer);
  }
}
