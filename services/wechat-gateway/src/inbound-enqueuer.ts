import { type InboundJob, type RedisClient, dedupeTtlMs } from '@wxim/queue';
import { type ConversationLine, takesTurn } from '@wxim/relay';
import { type WechatMessage, dedupeId } from '@wxim/wechat';
import { Job, type JobsOptions, type Queue } from 'bullmq';

export class EnqueueTimeout extends Error {
  override readonly name = 'EnqueueTimeout';
}

/** Fewer replicas than REDIS_WAIT_REPLICAS confirmed the write within the budget. */
export class ReplicasBehind extends Error {
  override readonly name = 'ReplicasBehind';
}

interface Pending {
  /** When the push arrived (ms): its budget runs from then. */
  at: number;
  name: string;
  data: InboundJob;
  opts: JobsOptions & { jobId: string };
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Stores a push in `wechat-inbound` exactly once, in its customer's line. The job id and a
 * deduplication key with a TTL both come from the push's own id: the job id makes a repeat a
 * no-op while the job exists, the key (set in the same script as the job) keeps doing so after
 * retention has removed the job, for as long as a replay of the push could pass the gateway's
 * checks (see dedupeTtlMs).
 *
 * Storing the job and putting it at the end of its customer's line (see ConversationLine) are
 * one MULTI transaction: a job is never stored out of line, so the order the gateway stored
 * pushes in is the order the workers relay them in. Pushes that arrive in the same turn of the
 * event loop share the transaction, one round trip for all; each is still answered only once
 * its own job is stored.
 */
export class InboundEnqueuer {
  private pending: Pending[] = [];
  private scheduled = false;
  private client?: Promise<RedisClient>;

  constructor(
    private readonly queue: Queue<InboundJob>,
    private readonly line: ConversationLine,
    /** WeChat gives up after 5 s: past this, answer an error rather than hope. */
    private readonly timeoutMs: number,
    /** REDIS_WAIT_REPLICAS: how many replicas must confirm a write before it counts as stored. */
    private readonly waitReplicas = 0,
  ) {}

  /** `signedAt`: the push's signed `timestamp` (seconds), which bounds how long a replay could pass. */
  async enqueue(message: WechatMessage, signedAt: number): Promise<string> {
    const id = dedupeId(message);
    const now = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const stored = new Promise<void>((resolve, reject) => {
      this.pending.push({
        at: now,
        name: message.kind,
        data: { message, receivedAt: now },
        opts: { jobId: id, deduplication: { id, ttl: dedupeTtlMs(signedAt, now) } },
        resolve,
        reject,
      });
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
    return id;
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    try {
      // BullMQ's Redis client, the one the queue was given: its transactions run BullMQ's scripts.
      this.client ??= (this.queue.backend as unknown as { client: Promise<RedisClient> }).client;
      const transaction = (await this.client).multi();
      const added = batch.map((p) =>
        new Job(this.queue, p.name, p.data, { ...this.queue.defaultJobOptions, ...p.opts }, p.opts.jobId).addJob(
          transaction as unknown as Parameters<Job['addJob']>[0],
        ),
      );
      this.line.appendIn(
        transaction,
        batch.filter((p) => takesTurn(p.data.message)).map((p) => ({ openid: p.data.message.fromUserName, jobId: p.opts.jobId })),
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
   * oldest push's budget. WAIT goes in a pipeline beside a command on one of the queue's keys, so
   * that on a cluster it reaches the primary that took the write, on the connection that wrote it.
   */
  private async replicated(client: RedisClient, since: number): Promise<void> {
    const leftMs = Math.max(1, this.timeoutMs - (Date.now() - since) - 100);
    const results = await client.pipeline().exists(this.queue.keys.meta!).wait(this.waitReplicas, leftMs).exec();
    const [err, acked] = results?.[1] ?? [new Error('WAIT was not answered'), 0];
    if (err) throw err;
    if ((acked as number) < this.waitReplicas) {
      throw new ReplicasBehind(`only ${String(acked)} of ${this.waitReplicas} replicas confirmed the push within ${leftMs} ms`);
    }
  }
}
