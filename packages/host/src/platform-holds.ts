import type { Config } from '@wxim/config';
import { ImRateLimitedError } from '@wxim/im';
import { type QueueName, accountPrefix } from '@wxim/queue';
import { queueHold, stateKeys } from '@wxim/state';
import { appLoadPlaces } from './account-keys.js';

/**
 * What a worker of `queue` does when a platform says "too many requests" (see decide: slow_down):
 * every worker of the queue holds back for `ms`. IM's limit is the IM app's, shared by every account
 * of the app (ACCOUNTS_FILE): IM's refusal holds back that queue of each of them, whose calls share
 * the pace. WeChat's is the Official Account's: its own queue only.
 */
export function platformHolds(redis: Parameters<typeof queueHold>[0], config: Config, queue: QueueName): (ms: number, err: unknown) => Promise<void> {
  const limiter = (prefix: string) => stateKeys(prefix).queue(queue).limiter;
  const ownLimiter = limiter(accountPrefix(config.queuePrefix, config.redisCluster, config.account));
  const own = queueHold(redis, ownLimiter);
  const limiters = new Set([ownLimiter, ...appLoadPlaces(config).accounts.map((a) => limiter(a.prefix))]);
  const app = [...limiters].map((key) => queueHold(redis, key));
  return async (ms, err) => {
    if (err instanceof ImRateLimitedError) await Promise.all(app.map((hold) => hold(ms)));
    else await own(ms);
  };
}
