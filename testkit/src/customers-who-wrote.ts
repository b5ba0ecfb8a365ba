import { loadConfig } from '@wxim/config';
import { fakeOpenId } from '@wxim/sandbox';
import { ReplyWindow, stateKeys } from '@wxim/state';
import type { Redis } from 'ioredis';
import { AGENTS } from './relay.js';
import type { TwoWayRelay } from './two-way.js';

/**
 * `count` customers who wrote a moment ago, as the gateway and im-worker leave them (their IM
 * accounts, identities, agents in turn, open reply windows), written straight to Redis and the
 * simulators: a test of the way back measures the replies alone.
 */
export async function customersWhoWrote(
  relay: Pick<TwoWayRelay, 'im' | 'wechatApi' | 'env'>,
  redis: Redis,
  count: number,
): Promise<{ openid: string; agent: string }[]> {
  const keys = stateKeys(loadConfig(relay.env).queuePrefix);
  const window = new ReplyWindow(redis, keys);
  const list = Array.from({ length: count }, (_, i) => ({ openid: fakeOpenId(), agent: AGENTS[i % AGENTS.length]! }));
  for (const c of list) {
    relay.im.accounts.set(c.openid, {});
    await redis.hset(keys.openidOf, c.openid, c.openid);
    await redis.hset(keys.customer(c.openid), 'userId', c.openid, 'imported', '1', 'agent', c.agent);
    await window.record(c.openid, 'message', Date.now());
    relay.wechatApi.customerActed(c.openid, 'message');
  }
  return list;
}
