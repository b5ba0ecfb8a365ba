export interface LoginThrottleOptions {
  /** Failed logins a client may make within `windowMs`; the next attempt waits. */
  limit?: number;
  windowMs?: number;
  /** Clients remembered at most; past it the one that failed longest ago is forgotten. */
  maxClients?: number;
  now?: () => number;
}

/**
 * Failed logins by client address, in this process's memory: `limit` failures within `windowMs`
 * and the client waits until the oldest of them is `windowMs` old, whatever it sends meanwhile —
 * the right password too, or guessing would go on at full speed and only the answers would wait.
 * A login that succeeds neither counts nor clears the count: the operator's own browser, polling
 * the board, shares 127.0.0.1 with any page in it that guesses.
 */
export class LoginThrottle {
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly maxClients: number;
  private readonly now: () => number;
  /** Each client's recent failures, oldest first; the Map in order of each client's latest failure. */
  private readonly failures = new Map<string, number[]>();

  constructor(options: LoginThrottleOptions = {}) {
    this.limit = options.limit ?? 5;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxClients = options.maxClients ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Whole seconds `client` must wait before it may try again, or 0 when it may try now. */
  waitSeconds(client: string): number {
    const times = this.recent(client);
    if (times.length < this.limit) return 0;
    return Math.max(1, Math.ceil((times[0]! + this.windowMs - this.now()) / 1000));
  }

  failed(client: string): void {
    const times = this.recent(client);
    times.push(this.now());
    if (times.length > this.limit) times.shift();
    this.failures.delete(client);
    this.failures.set(client, times);
    if (this.failures.size > this.maxClients) this.failures.delete(this.failures.keys().next().value!);
  }

  /** Clients remembered now. */
  get size(): number {
    return this.failures.size;
  }

  private recent(client: string): number[] {
    const since = this.now() - this.windowMs;
    const times = (this.failures.get(client) ?? []).filter((t) => t > since);
    if (times.length === 0) this.failures.delete(client);
    return times;
  }
}
