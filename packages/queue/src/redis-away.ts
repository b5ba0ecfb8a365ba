/** Redis's own answers that mean "not now": loading its data after a restart, a replica or a cluster mid-failover. */
const NOT_NOW = /^(LOADING|READONLY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|NOREPLICAS)\b/;
/** ioredis's words for a connection that is not there: refused while reconnecting, closed, or out of tries. */
const NO_CONNECTION = /^(Stream isn't writeable|Connection is closed|Reached the max retries per request limit)/;
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Whether an error means Redis was not there to answer — restarting, failing over, cut off — so
 * that the same command may well succeed a moment later. Only for commands that are safe to repeat
 * (a store whose job id makes a repeat a no-op): the command may have run and its answer been lost.
 */
export function redisAway(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (NOT_NOW.test(err.message) || NO_CONNECTION.test(err.message)) return true;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  const code = (err as Error & { code?: unknown }).code;
  if (typeof code === 'string' && SOCKET_CODES.has(code)) return true;
  // A MULTI that Redis refused to run because a command in it was refused (EXECABORT): its reasons.
  const previous = (err as Error & { previousErrors?: unknown }).previousErrors;
  return Array.isArray(previous) && previous.length > 0 && previous.every(redisAway);
}

/** How long to wait before trying a command again while Redis is away: a few tries a second, within the caller's budget. */
export const AWAY_RETRY_MS = 100;

/** Whether another try, after its wait, still fits before `deadline` (ms). */
export function timeForAnotherTry(deadline: number): boolean {
  return Date.now() + 2 * AWAY_RETRY_MS <= deadline;
}

/**
 * Runs `attempt` until it succeeds, fails for another reason than Redis being away, or the time
 * left before `deadline` (ms) would not fit another try: then the last error is thrown.
 * `retrying` is told of each try to come (a counter: the callers' answers show none of them).
 */
export async function whileRedisAway<R>(deadline: number, attempt: () => Promise<R>, retrying?: () => void): Promise<R> {
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (!redisAway(err) || !timeForAnotherTry(deadline)) throw err;
      retrying?.();
      await new Promise((resolve) => setTimeout(resolve, AWAY_RETRY_MS));
    }
  }
}
