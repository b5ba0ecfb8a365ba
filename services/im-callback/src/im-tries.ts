import { setTimeout as sleep } from 'node:timers/promises';
import { ImNotImportedError, ImPermanentError, ImRateLimitedError } from '@wxim/im';

/**
 * One IM look-up of a recovery or sweep (a conversation's history, an agent's list), tried up to
 * `tries` times: over IM's limit (another caller of the app's budget) after the wait IM asks for,
 * after another error after a short backoff. A refusal that will not change (the account is gone,
 * IM refuses the request) is thrown at once.
 */
export async function withTries<T>(tries: number, call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (err instanceof ImPermanentError || err instanceof ImNotImportedError || attempt >= tries) throw err;
      await sleep(err instanceof ImRateLimitedError ? err.retryAfterMs : 500 * 2 ** (attempt - 1));
    }
  }
}
