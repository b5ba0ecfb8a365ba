import type { Queue } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import { addJobIn, layoutOf, storeConnection } from './bullmq-layout.js';
import type { RedisClient } from './connection.js';
import { AWAY_RETRY_MS, redisAway, timeForAnotherTry } from './redis-away.js';

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

/** What else a store's transactions run: its scripts are defined on the store's connection, once. */
export interface TransactionPart {
  defineOn(client: RedisClient): void;
}

/** Where jobs join their lines, in the same transaction as the store (see ConversationLine.appendIn). */
export interface LineAppender extends TransactionPart {
  appendIn(transaction: ChainableCommander, entries: readonly { openid: string; jobId: string }[]): void;
}

/** The results of the commands a Besides queued, in order, or the error that stopped the transaction. */
export type BesidesResults = readonly [Error | null, unknown][] | Error;

/**
 * Commands queued on the transaction that stores a job, after the store's own (e.g. the gateway's
 * look at whether the customer waits): they run only if the store does, and their errors are
 * theirs, never the store's. Queues its commands and says how many, and what to do with their
 * results (a command on a MULTI answers only QUEUED itself); `settle` is called once.
 */
export type Besides = (transaction: ChainableCommander) => { commands: number; settle(results: BesidesResults): void };

interface Pending<T> {
  /** When the job was asked for (ms): its budget runs from then. */
  at: number;
  job: DurableJob<T>;
  besides: Besides | undefined;
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
 * all; each is still resolved only once its own job is stored. While Redis is away (see
 * redisAway) the transaction is tried again every AWAY_RETRY_MS within each job's budget, and
 * jobs asked for meanwhile wait to go after it, never stored ahead of it. The transactions run on a
 * connection of the store's own (see storeConnection), which carries only their scripts.
 */
export class DurableEnqueuer<T> {
  private pending: Pending<T>[] = [];
  private scheduled = false;
  /** Jobs whose transaction Redis was away for, waiting to be tried again: none stored before them meanwhile. */
  private again: Pending<T>[] = [];
  private readonly client: Promise<RedisClient>;

  constructor(
    private readonly queue: Queue<T>,
    private readonly line: LineAppender | undefined,
    /** The platform's budget for our answer: past this, answer an error rather than hope. */
    private readonly timeoutMs: number,
    /** REDIS_WAIT_REPLICAS: how many replicas must confirm a write before it counts as stored. */
    private readonly waitReplicas = 0,
    /** What else the transactions run (see Besides), beside the line. */
    parts: readonly TransactionPart[] = [],
    /** Told of the jobs to be tried again (their names), each time Redis was away for their transaction. */
    private readonly retrying: (jobs: readonly string[]) => void = () => {},
  ) {
    // Made now, so that it is connected before the first job comes.
    this.client = storeConnection(queue).then((client) => {
      for (const part of [...(line ? [line] : []), ...parts]) part.defineOn(client);
      return client;
    });
    this.client.catch(() => {}); // a flush reports it
  }

  /** Closes the store's connection (the queue's is its owner's). */
  async close(): Promise<void> {
    const client = await this.client.catch(() => undefined);
    await client?.quit().catch(() => client.disconnect());
  }

  /**
   * `besides`: commands for the same transaction (see Besides); called again for each try.
   * `since`: when the budget began (ms; the platform's request arrived), now by default.
   */
  async enqueue(job: DurableJob<T>, besides?: Besides, since = Date.now()): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const stored = new Promise<void>((resolve, reject) => {
      this.pending.push({ at: since, job, besides, resolve, reject });
      this.schedule();
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new EnqueueTimeout(`Redis did not take the job within ${this.timeoutMs} ms`)),
        Math.max(0, this.timeoutMs - (Date.now() - since)),
      );
    });
    try {
      await Promise.race([stored, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private schedule(): void {
    // Held while jobs wait to be tried again: one stored first would overtake them in its line.
    if (this.scheduled || this.again.length > 0) return;
    this.scheduled = true;
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    // Scheduled before an earlier batch failed: it waits for that batch's retry, behind it.
    if (this.again.length > 0) {
      this.pending = [...batch, ...this.pending];
      return;
    }
    const sides: ReturnType<Besides>[] = [];
    try {
      const client = await this.client;
      const transaction = client.multi();
      const added = batch.map(({ job }) =>
        addJobIn(transaction, this.queue, {
          name: job.name,
          data: job.data,
          id: job.jobId,
          opts: { ...this.queue.defaultJobOptions, jobId: job.jobId, deduplication: { id: job.jobId, ttl: job.dedupeTtlMs } },
        }),
      );
      const lines = batch.flatMap(({ job }) => (job.lineOf === undefined ? [] : [{ openid: job.lineOf, jobId: job.jobId }]));
      this.line?.appendIn(transaction, lines);
      // The store's own commands come first: only their results decide whether the jobs are stored.
      const own = added.length + (this.line === undefined ? 0 : lines.length);
      for (const { besides } of batch) if (besides) sides.push(besides(transaction));
      const [results] = await Promise.all([transaction.exec(), ...added.map((a) => a.catch(() => undefined))]);
      const failed = results?.slice(0, own).find(([err]) => err !== null)?.[0];
      if (results === null || failed) throw failed ?? new Error('transaction discarded');
      let from = own;
      for (const side of sides.splice(0)) side.settle(results.slice(from, (from += side.commands)));
      if (this.waitReplicas > 0) await this.replicated(client, Math.min(...batch.map((p) => p.at)));
      await Promise.all(added.map((a, i) => a.then(batch[i]!.resolve, batch[i]!.reject)));
    } catch (err) {
      for (const side of sides) side.settle(err as Error);
      // Redis away (a restart, a failover, a cut): tried again a few times a second while the
      // budget lasts, so a blip of a second or two costs WeChat a late answer, not a 503 (which it
      // may retry at once, and give up on). A repeat is a no-op if the store did happen.
      // The jobs that came meanwhile wait for them, and go in the same transaction, after them.
      const again = redisAway(err) ? batch.filter((p) => timeForAnotherTry(p.at + this.timeoutMs)) : [];
      for (const p of batch) if (!again.includes(p)) p.reject(err as Error);
      if (again.length > 0) {
        this.retrying(again.map((p) => p.job.name));
        if (this.again.length === 0)
          setTimeout(() => {
            this.pending = [...this.again, ...this.pending];
            this.again = [];
            this.schedule();
          }, AWAY_RETRY_MS);
        this.again.push(...again);
      }
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
