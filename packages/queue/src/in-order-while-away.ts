import { whileRedisAway } from './redis-away.js';

/**
 * Tries made while Redis is away (see whileRedisAway), kept in the order they began: a try that
 * begins while earlier ones wait to be tried again waits for them first, at most until its own
 * deadline (then it fails, EarlierStillWaiting, untried). Per process: two gateways or two
 * im-callbacks each keep their own order. Without it a later request, asking at once, reaches Redis the moment it is back, ahead
 * of an earlier one still in its 100 ms wait: a customer's second message stored before their
 * first. While Redis answers, nothing waits and nothing is kept.
 */
export class InOrderWhileAway {
  /** Each settles when its try, which met Redis away, has settled. */
  private readonly retrying = new Set<Promise<void>>();

  async run<R>(deadline: number, attempt: () => Promise<R>, retrying?: () => void): Promise<R> {
    if (this.retrying.size > 0) {
      const earlier = [...this.retrying];
      await settledBefore(Promise.all(earlier), deadline);
      // Its time ran out behind them: trying now would go ahead of them after all.
      if (earlier.some((e) => this.retrying.has(e)))
        throw new EarlierStillWaiting('Redis is away: earlier requests still wait to be stored, and this one ran out of time behind them');
    }
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

/** A try whose deadline came while earlier ones still waited for Redis: not made, so as not to go ahead of them. */
export class EarlierStillWaiting extends Error {
  override readonly name = 'EarlierStillWaiting';
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
