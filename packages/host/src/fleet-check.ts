import type { FleetLock, HeldLock } from '@wxim/state';

export interface FleetCheckOptions {
  /** How often an instance looks whether a check is due. */
  everyMs: number;
  /** The fleet's one check at a time. */
  lock: FleetLock;
  /** The check in words, for the warning when one stops, e.g. `the reply-window check`. */
  what: string;
  log: { warn(o: object, m: string): void };
  /** Counts each check this instance ran: done, or failed (stopped by an error, logged). */
  ran?: (outcome: 'done' | 'failed') => void;
}

/** A check cut short between two steps because its instance is stopping: the next one, anywhere, goes on. */
class CheckStopped extends Error {
  constructor() {
    super('stopping');
  }
}

/**
 * A check one instance of the fleet runs at a time, every `everyMs` on each instance: the lock
 * decides which. Written once for the pusher's periodic checks (first-response SLA, reply-window
 * warnings); each supplies `check`, which keeps the lock (`held.keep()`) between its steps. A stop
 * ends the check at its next step: a check of a hundred IM notices, each waiting its turn under
 * IM's pace, would otherwise hold a shutdown past its grace.
 */
export abstract class FleetCheck<T> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopping = false;

  constructor(private readonly options: FleetCheckOptions) {}

  start(): void {
    this.timer = setInterval(() => {
      // One at a time here too: a slow check is not overtaken by the next tick.
      this.running ??= this.runOnce()
        .then(
          (found) => {
            if (found !== undefined) this.options.ran?.('done');
          },
          (err: Error) => {
            if (err instanceof CheckStopped) return;
            this.options.ran?.('failed');
            this.options.log.warn({ reason: err.message }, `${this.options.what} stopped; the next one looks again`);
          },
        )
        .finally(() => (this.running = undefined));
    }, this.options.everyMs);
    this.timer.unref();
  }

  /** Stops checking; resolves when the check running here, if any, has ended: at its next step. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.stopping = true;
    await this.running;
  }

  /** One check, unless another instance is checking: resolves to what `check` found, or undefined. */
  async runOnce(): Promise<T | undefined> {
    const held = await this.options.lock.take();
    if (held === undefined) return undefined;
    try {
      return await this.check({
        keep: async () => {
          if (this.stopping) throw new CheckStopped();
          await held.keep();
        },
        release: () => held.release(),
      });
    } finally {
      await held.release();
    }
  }

  protected abstract check(held: HeldLock): Promise<T>;
}
