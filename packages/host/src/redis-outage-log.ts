interface Log {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** Socket errors that mean the connection to Redis is gone, whatever state the client shows yet. */
const CONNECTION_LOST = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Whether a worker error says Redis is out of reach. The first error of an outage can come before
 * ioredis marks the connection closed (a write on a socket the server just shut gives EPIPE), so the
 * client's status alone misses it.
 */
export function isConnectionLoss(err: Error & { code?: unknown }): boolean {
  if (typeof err.code === 'string' && CONNECTION_LOST.has(err.code)) return true;
  return /^Connection is closed|^(write|read|connect) (EPIPE|ECONNRESET|ECONNREFUSED|ETIMEDOUT)\b/.test(err.message);
}

/** How often a Redis outage that goes on is mentioned again. */
const REMINDER_MS = 60_000;

/**
 * A Redis outage in a worker's log: once when it begins, at most once a minute while it lasts
 * (with how many attempts failed meanwhile), and once when Redis answers again. BullMQ reports
 * every failed attempt to fetch a job (about one a second per worker), which would bury the rest
 * of the log; the retrying itself goes on as before.
 */
export class RedisOutageLog {
  private since: number | undefined;
  private lastSaid = 0;
  private failedSinceSaid = 0;

  constructor(
    private readonly log: Log,
    private readonly now: () => number = Date.now,
  ) {}

  /** A failed attempt (BullMQ's `error` event). */
  failed(reason: string): void {
    const now = this.now();
    if (this.since === undefined) {
      this.since = now;
      this.lastSaid = now;
      this.failedSinceSaid = 0;
      this.log.warn({ reason }, 'Redis unreachable: the worker takes no job and retries until Redis answers (said again when it does)');
      return;
    }
    this.failedSinceSaid++;
    if (now - this.lastSaid < REMINDER_MS) return;
    this.log.warn(
      { reason, failedAttempts: this.failedSinceSaid, downForS: Math.round((now - this.since) / 1000) },
      'Redis still unreachable: the worker takes no job and keeps retrying',
    );
    this.lastSaid = now;
    this.failedSinceSaid = 0;
  }

  /** The worker's connection is ready again. */
  recovered(): void {
    if (this.since === undefined) return;
    this.log.info({ downForS: Math.round((this.now() - this.since) / 1000) }, 'Redis answers again: the worker takes jobs');
    this.since = undefined;
  }
}
