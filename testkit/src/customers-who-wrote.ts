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

/**
 * Each customer's agent answers them once (`text(openid)`), through IM's callback to the relay,
 * `atOnce` callbacks in flight at a time: im-callback must answer each within IM's 2 s, which
 * hundreds at once on two busy cores can outrun (connection-burst.test.ts tests that burst on its
 * own). Resolves with what IM answered each agent (its `delivered`: the callback answered in
 * time), in the list's order.
 */
export async function agentsAnswer(
  relay: Pick<TwoWayRelay, 'im'>,
  list: readonly { openid: string; agent: string }[],
  text: (openid: string) => string,
  atOnce = 50,
): Promise<Awaited<ReturnType<TwoWayRelay['im']['agentSend']>>[]> {
  const sent = [];
  for (let i = 0; i < list.length; i += atOnce) {
    const batch = list
      .slice(i, i + atOnce)
      .map((c) => relay.im.agentSend(c.agent, c.openid, [{ MsgType: 'TIMTextElem', MsgContent: { Text: text(c.openid) } }]));
    sent.push(...(await Promise.all(batch)));
  }
  return sent;
}
