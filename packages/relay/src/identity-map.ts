import type { Redis, Cluster } from 'ioredis';
import type { StateKeys } from './keys.js';

export interface Customer {
  /** The customer's IM UserID: the openid, or openid_<n> after IM refused to re-import it. */
  userId: string;
  /** Whether the relay has imported the UserID into IM (and not deleted it since). */
  imported: boolean;
  agent?: string;
}

/** IM UserIDs are at most 32 bytes of [A-Za-z0-9_-]; an openid (28) fits, with room for a suffix. */
export function userIdFor(openid: string, generation: number): string {
  const base = openid.replace(/[^A-Za-z0-9_-]/g, '_');
  if (generation <= 1) return base.slice(0, 32);
  const suffix = `_${generation.toString(36)}`;
  return `${base.slice(0, 32 - suffix.length)}${suffix}`;
}

/**
 * openid ⇄ IM UserID in Redis: a hash per customer (UserID, generation, imported flag, agent)
 * and one reverse hash UserID → openid, which agent replies need to find the customer.
 */
export class IdentityMap {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: StateKeys,
  ) {}

  async markImported(openid: string, userId: string): Promise<void> {
    await this.redis.multi().hset(this.keys.customer(openid), 'userId', userId, 'imported', '1').hset(this.keys.openidOf, userId, openid).exec();
  }

  async markDeleted(openid: string): Promise<void> {
    await this.redis.hset(this.keys.customer(openid), 'imported', '0');
  }

  /** After IM refused to re-import a deleted UserID: the next generation's UserID, recorded. */
  async nextUserId(openid: string): Promise<string> {
    const generation = await this.redis.hincrby(this.keys.customer(openid), 'generation', 1);
    const userId = userIdFor(openid, Math.max(2, generation + 1));
    await this.redis.multi().hset(this.keys.customer(openid), 'userId', userId, 'imported', '0').hset(this.keys.openidOf, userId, openid).exec();
    return userId;
  }

  async openidOf(userId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.openidOf, userId)) ?? undefined;
  }
}
