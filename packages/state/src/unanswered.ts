import type { Cluster, Redis } from 'ioredis';
import { relayScripts } from '@wxim/redis-scripts';
import type { StateKeys } from './keys.js';

/**
 * Customers whose latest message waits for an answer from their agent, by since when (Redis's
 * clock): the im-worker marks one when it relays a customer's message and none was waiting
 * already; the pusher clears it when it delivers a reply from the serving agent, or on /close.
 * FIRST_RESPONSE_SLA_S moves the conversations overdue.
 */
export class Unanswered {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: StateKeys,
  ) {}

  /** The customer's message reached their agent: they wait for an answer from now, unless they already did. */
  async mark(openid: string): Promise<void> {
    await relayScripts(this.redis).wximDeskMarkUnanswered(this.keys.deskUnanswered, openid);
  }
}
