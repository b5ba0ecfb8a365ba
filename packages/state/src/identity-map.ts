import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { StateKeys } from './keys.js';
import { type RelayScripts, relayScripts } from '@wxim/redis-scripts';

export interface Customer {
  /** The customer's IM UserID, once the relay has chosen one (see IdentityMap.claim). */
  userId?: string;
  /** Whether the relay has imported the UserID into IM (and not deleted it since). */
  imported: boolean;
  agent?: string;
}

/** What IM accepts in a UserID and the relay keeps to: at most 32 of [A-Za-z0-9_-]. */
const VALID_USER_ID = /^[A-Za-z0-9_-]{1,32}$/;

function digest(text: string): string {
  // 30 characters of base64url: 180 bits, and only characters a UserID may hold.
  return `h_${createHash('sha256').update(text).digest('base64url').slice(0, 30)}`;
}

/**
 * The UserID an openid asks for first, in its `generation` (1, then 2, 3, … each time IM refuses to
 * re-import a deleted one). An openid that is a valid UserID stays itself (a real openid is 28 of
 * [A-Za-z0-9_-]); any other becomes a digest of itself, never a lossy rewrite that two openids
 * could share. Later generations add `_<n>` (base 36).
 */
export function userIdFor(openid: string, generation: number): string {
  const base = VALID_USER_ID.test(openid) ? openid : digest(openid);
  if (generation <= 1) return base;
  const suffix = `_${generation.toString(36)}`;
  return `${base.slice(0, 32 - suffix.length)}${suffix}`;
}

/**
 * openid ⇄ IM UserID in Redis: a hash per customer (UserID, generation, imported flag, agent)
 * and one reverse hash UserID → openid, which agent replies need to find the customer, and which
 * keeps a UserID to one openid.
 */
export class IdentityMap {
  private readonly commands: RelayScripts;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: StateKeys,
  ) {
    this.commands = relayScripts(redis);
  }

  /**
   * Chooses the customer's UserID for `generation` and records it, atomically: `userIdFor`, or
   * when another openid holds that already (an openid that happens to equal another's digest),
   * a digest of the openid and the generation.
   */
  async claim(openid: string, generation = 1): Promise<string> {
    const candidates = [userIdFor(openid, generation), ...[1, 2, 3].map((k) => digest(`${openid}\n${generation}\n${k}`))];
    const userId = await this.commands.wximClaimUserId(this.keys.customer(openid), this.keys.openidOf, openid, ...candidates);
    if (userId === null) throw new Error('no free IM UserID for this customer');
    return userId;
  }

  async markImported(openid: string): Promise<void> {
    await this.redis.hset(this.keys.customer(openid), 'imported', '1');
  }

  async markDeleted(openid: string): Promise<void> {
    await this.redis.multi().hset(this.keys.customer(openid), 'imported', '0').hdel(this.keys.customer(openid), 'deleting').exec();
  }

  /** Before deleting the customer's IM account for the job `jobId` (an unfollow): a retry of that job knows the account is gone by its own hand. */
  async markDeleting(openid: string, jobId: string): Promise<void> {
    await this.redis.hset(this.keys.customer(openid), 'deleting', jobId);
  }

  /** The job that began deleting the customer's IM account and has not recorded it deleted, if any. */
  async deletingBy(openid: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.customer(openid), 'deleting')) ?? undefined;
  }

  /** After IM refused to re-import a deleted UserID: the next generation's UserID, recorded. */
  async nextUserId(openid: string): Promise<string> {
    const generation = await this.redis.hincrby(this.keys.customer(openid), 'generation', 1);
    return this.claim(openid, Math.max(2, generation + 1));
  }

  async openidOf(userId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.openidOf, userId)) ?? undefined;
  }
}
