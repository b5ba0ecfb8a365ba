import { type InboundJob, DEDUPE_TTL_MS, type RedisClient } from '@wxim/queue';
import { type ConversationLine, takesTurn } from '@wxim/relay';
import { type WechatMessage, dedupeId } from '@wxim/wechat';
import { Job, type JobsOptions, type Queue } from 'bullmq';

export class EnqueueTimeout extends Error {
  override readonly name = 'EnqueueTimeout';
}

interface Pending {
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
 * retention has removed the job.
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
  ) {}

  async enqueue(message: WechatMessage): Promise<string> {
    const id = dedupeId(message);
    let timer: NodeJS.Timeout | undefined;
    const stored = new Promise<void>((resolve, reject) => {
      this.pending.push({
        name: message.kind,
        data: { message, receivedAt: Date.now() },
        opts: { jobId: id, deduplication: { id, ttl: DEDUPE_TTL_MS } },
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
      await Promise.all(added.map((a, i) => a.then(batch[i]!.resolve, batch[i]!.reject)));
    } catch (err) {
      this.client = undefined; // ask the queue again next time, in case its connection was replaced
      for (const p of batch) p.reject(err as Error);
    }
  }
}
