import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { type RelayScripts, relayScripts } from '@wxim/redis-scripts';

/** A lock taken: kept while its work runs (keep), given up when done (release). */
export interface HeldLock {
  /** Extends the lock, or throws when it is no longer ours: work that goes step by step calls it before each step. */
  keep: () => Promise<void>;
  release(): Promise<void>;
}

/**
 * One instance of the fleet at a time does a piece of work (a recovery, a sweep): the lock is a
 * key with a lifetime, owned by a random token; renewal and release act only while the token is
 * still the owner (one script each), so an instance that lost the lock stops, and never frees another's.
 */
export class FleetLock {
  private readonly scripts: RelayScripts;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly key: string,
    private readonly ms: number,
  ) {
    this.scripts = relayScripts(redis);
  }

  /** The lock, or undefined when another instance holds it. */
  async take(): Promise<HeldLock | undefined> {
    const owner = randomBytes(12).toString('base64url');
    if ((await this.redis.set(this.key, owner, 'PX', this.ms, 'NX')) !== 'OK') return undefined;
    return {
      keep: async () => {
        if ((await this.scripts.wximLockRenew(this.key, owner, this.ms)) !== 1)
          throw new Error(`the lock ${this.key} was lost: another instance has the work now`);
      },
      release: async () => {
        await this.scripts.wximLockRelease(this.key, owner);
      },
    };
  }
}
