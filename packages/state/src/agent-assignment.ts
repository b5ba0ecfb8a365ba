import type { Cluster, Redis } from 'ioredis';
import type { StateKeys } from './keys.js';
import type { DeskPresence } from './desk-presence.js';
import { type RelayScripts, relayScripts } from '@wxim/redis-scripts';

/** The agents' loads: a customer who unfollows no longer counts towards their agent's load. */
export class AgentLoad {
  private readonly redis: RelayScripts;

  constructor(
    redis: Redis | Cluster,
    private readonly keys: StateKeys,
    /** Wakes the customer waiting longest when a place frees (none: they find it at their next look). */
    private readonly presence?: Pick<DeskPresence, 'wakeWaiting'>,
  ) {
    this.redis = relayScripts(redis);
  }

  /** The customer's conversation closes (an unfollow) and they leave the waiting queue; they keep the agent should they return. */
  async release(openid: string): Promise<void> {
    const k = this.keys;
    const agent = await this.redis.wximReleaseAgent(
      k.customer(openid),
      k.agentLoad,
      k.deskActive,
      k.deskWaiting,
      k.deskWaitingSeen,
      k.deskLoadsOwn,
      k.carriedLoad,
      k.carriedLoadsOwn,
      openid,
    );
    if (agent !== null) await this.presence?.wakeWaiting(1);
  }

  /**
   * Counts the agents' open conversations afresh from the desks of `accounts` (this account and
   * those that share its IM app), in one step, and drops the counts kept in `dropped` (where they
   * may have been kept before: see LoadPlaces). Resolves to how many conversations are open.
   */
  async recount(accounts: readonly { keys: StateKeys }[], dropped: readonly string[]): Promise<number> {
    const k = this.keys;
    const places = [...new Set(dropped)].filter((key) => key !== k.agentLoad);
    const keys = [k.agentLoad, k.deskLoadsOwn, ...accounts.map((a) => a.keys.deskActive), ...places];
    return this.redis.wximRecountLoads(keys.length, ...keys, String(accounts.length), ...accounts.map((a) => a.keys.customer('')));
  }

  /**
   * By how many open conversations the agents' counts differ from a count afresh over the desks of
   * `accounts` (as recount takes them), read in one step and changing nothing: 0 while they agree.
   */
  async drift(accounts: readonly { keys: StateKeys }[]): Promise<number> {
    const keys = [this.keys.agentLoad, ...accounts.map((a) => a.keys.deskActive)];
    return this.redis.wximLoadDrift(keys.length, ...keys, ...accounts.map((a) => a.keys.customer('')));
  }
}
