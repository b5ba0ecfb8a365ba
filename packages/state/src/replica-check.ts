import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { relayScripts, scriptsIn } from '@wxim/redis-scripts';
import { LockLostError } from './lock-lost-error.js';
import type { Lease } from './rate-gate.js';

/** Fewer replicas than REDIS_WAIT_REPLICAS hold what a worker is about to act on: it sends nothing now, and tries again later. */
export class NotOnReplicas extends Error {
  override readonly name = 'NotOnReplicas';
}

/**
 * REDIS_WAIT_REPLICAS for a worker: nothing is sent to a platform for a job that only the primary
 * holds. A primary that is being replaced keeps taking writes until the switch is announced (a
 * failover, a partition); a job stored only there vanishes with it, and the platform's retry of
 * the same message, stored again on the new primary, would be relayed a second time.
 *
 * Replication is one ordered stream per primary: once the replicas confirm (WAIT) a write this
 * connection made after the job was stored, they hold the job too. Each check is that write and
 * the WAIT in one pipeline, one round trip.
 */
export class ReplicaCheck {
  constructor(
    private readonly redis: Redis | Cluster,
    /** The key written when there is no job lock to renew (a job run by hand). */
    private readonly markKey: string,
    /** How many replicas must confirm (REDIS_WAIT_REPLICAS, above 0). */
    readonly replicas: number,
    /** How long WAIT may block the connection; past it the job is tried again later. */
    private readonly timeoutMs = 1000,
  ) {
    relayScripts(redis);
  }

  /**
   * The job's lock renewed (checking it is still ours, on the server this connection reaches)
   * and confirmed by the replicas: the job is on them. Throws LockLostError or NotOnReplicas.
   */
  async job(lease: Lease | undefined): Promise<void> {
    const [written] = await this.confirm((p) => {
      if (lease === undefined) p.set(this.markKey, '1', 'PX', 60_000);
      else void scriptsIn(p).wximLockRenew(lease.lockKey, lease.token, lease.lockMs);
    });
    if (lease !== undefined && written !== 1) throw new LockLostError("the job's lock is no longer ours: not sending it");
  }

  /**
   * Runs `writes` and then WAIT in one pipeline; resolves with the writes' results once enough
   * replicas confirmed them, throws NotOnReplicas otherwise (the writes stay on the primary).
   * On a cluster the pipeline goes to the node of the writes' keys, WAIT with it.
   */
  async confirm(writes: (pipeline: ChainableCommander) => void): Promise<unknown[]> {
    const pipeline = this.redis.pipeline();
    writes(pipeline);
    pipeline.wait(this.replicas, this.timeoutMs);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err !== null)?.[0];
    if (failed) throw failed;
    const acked = Number(results.at(-1)?.[1] ?? 0);
    if (acked < this.replicas)
      throw new NotOnReplicas(`only ${acked} of ${this.replicas} replicas confirmed the job within ${this.timeoutMs} ms: not sent now`);
    return results.slice(0, -1).map(([, value]) => value);
  }
}
