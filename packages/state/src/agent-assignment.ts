import type { Cluster, Redis } from 'ioredis';
import type { StateKeys } from './keys.js';
import { type RelayScripts, relayScripts } from '@wxim/redis-scripts';

/** The agents' loads: a customer who unfollows no longer counts towards their agent's. */
export class AgentLoad {
  private readonly redis: RelayScripts;

  constructor(
    redis: Redis | Cluster,
    private readonly keys: StateKeys,
  ) {
    this.redis = relayScripts(redis);
  }

  /** The customer's conversation closes (an unfollow) and they leave the waiting queue; they keep the agent should they return. */
  async release(openid: string): Promise<void> {
    await this.redis.wximReleaseAgent(
      this.keys.customer(openid),
      this.keys.agentLoad,
      this.keys.deskActive,
      this.keys.deskWaiting,
      this.keys.deskWaitingSeen,
      openid,
    );
  }
}
