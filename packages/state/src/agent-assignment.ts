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
      k.accountLoad,
      k.accountLoadsOwn,
      openid,
    );
    if (agent !== null) await this.presence?.wakeWaiting(1);
  }
}
