import type { Queue } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import { addJobIn, layoutOf, queueClient } from './bullmq-layout.js';
import type { RedisClient } from './connection.js';

export class EnqueueTimeout extends Error {
  override readonly name = 'EnqueueTimeout';
}

/** Fewer replicas than REDIS_WAIT_REPLICAS confirmed the write within the budget. */
export class ReplicasBehind extends Error {
  override readonly name = 'ReplicasBehind';
}

/** One job to store: its id comes from the platform's own id, so a repeat adds nothing. */
export interface DurableJob<T> {
  name: string;
  data: T;
  jobId: string;
  /** How long a repeat of this id stays a no-op after retention has removed the job. */
  dedupeTtlMs: number;
  /** The line (customer) the job joins, in the store order; none for a job that takes no turn. */
  lineOf?: string;
}

/** Where jobs join their lines, in the same transaction as the store (see ConversationLine.appendIn). */
export interface LineAppender {
  appendIn(transaction: ChainableCommander, entries: readonly { openid: string; jobId: string }[]): void;
}

interface Pending<T> {
  /** When the job was asked for (ms): its budget runs from then. */
  at: number;
  job: DurableJob<T>;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Stores jobs exactly once, each in its line, before the platform that sent them is answered.
 * The job id and a deduplication key with a TTL both come from the platform's id: the job id
 * makes a repeat a no-op while the job exists, the key (set in the same script as the job) keeps
 * doing so after retention has removed the job.
 *
 * Storing a job and putting it at the end of its line are one MULTI transaction: a job is never
 * stored out of line, so the order jobs were stored in is the order the workers handle them in.
 * Jobs asked for in the same turn of the event loop share the transaction, one round trip for
 * all; each is still resolved only once its own job is stored.
 */
export class DurableEnqueuer<T> {
  private pending: Pending<T>[] = [];
  private scheduled = false;
  private client?: Promise<RedisClient>;

  constructor(
    private readonly queue: Queue<T>,
    private readonly line: LineAppender | undefined,
    /** The platform's budget for our answer: past this, answer an error rather than hope. */
    private readonly timeoutMs: number,
    /** REDIS_WAIT_REPLICAS: how many replicas must confirm a write before it counts as stored. */
    private readonly waitReplicas = 0,
  ) {}

  async enqueue(job: DurableJob<T>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const stored = new Promise<void>((resolve, reject) => {
      this.pending.push({ at: Date.now(), job, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EnqueueTimeout(`Redis did not take the job within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      await Promise.race([stored, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    try {
      // The queue's own connection: its transactions run BullMQ's scripts.
      this.client ??= queueClient(this.queue);
      const transaction = (await this.client).multi();
      const added = batch.map(({ job }) =>
        addJobIn(transaction, this.queue, {
          name: job.name,
          data: job.data,
          id: job.jobId,
          opts: { ...this.queue.defaultJobOptions, jobId: job.jobId, deduplication: { id: job.jobId, ttl: job.dedupeTtlMs } },
        }),
      );
      this.line?.appendIn(
        transaction,
        batch.flatMap(({ job }) => (job.lineOf === undefined ? [] : [{ openid: job.lineOf, jobId: job.jobId }])),
      );
      const [results] = await Promise.all([transaction.exec(), ...added.map((a) => a.catch(() => undefined))]);
      const failed = results?.find(([err]) => err !== null)?.[0];
      if (results === null || failed) throw failed ?? new Error('transaction discarded');
      if (this.waitReplicas > 0) await this.replicated(await this.client, Math.min(...batch.map((p) => p.at)));
      await Promise.all(added.map((a, i) => a.then(batch[i]!.resolve, batch[i]!.reject)));
    } catch (err) {
      this.client = undefined; // ask the queue again next time, in case its connection was replaced
      for (const p of batch) p.reject(err as Error);
    }
  }

  /**
   * Waits (WAIT) until the replicas have what this connection wrote, within what is left of the
   * oldest job's budget. WAIT goes in a pipeline beside a command on one of the queue's keys, so
   * that on a cluster it reaches the primary that took the write, on the connection that wrote it.
   */
  private async replicated(client: RedisClient, since: number): Promise<void> {
    const leftMs = Math.max(1, this.timeoutMs - (Date.now() - since) - 100);
    const results = await client.pipeline().exists(layoutOf(this.queue).meta).wait(this.waitReplicas, leftMs).exec();
    const [err, acked] = results?.[1] ?? [new Error('WAIT was not answered'), 0];
    if (err) throw err;
    if ((acked as number) < this.waitReplicas) {
      throw new ReplicasBehind(`only ${String(acked)} of ${this.waitReplicas} replicas confirmed the write within ${leftMs} ms`);
    }
  }
}
