import { type InboundJob, DEDUPE_TTL_MS } from '@wxim/queue';
import { type ConversationLine, takesTurn } from '@wxim/relay';
import { type WechatMessage, dedupeId } from '@wxim/wechat';
import type { JobsOptions, Queue } from 'bullmq';

export class EnqueueTimeout extends Error {
  override readonly name = 'EnqueueTimeout';
}

interface Pending {
  name: string;
  data: InboundJob;
  opts: JobsOptions;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Stores a push in `wechat-inbound` exactly once. The job id and a deduplication key with a TTL
 * both come from the push's own id: the job id makes a repeat a no-op while the job exists, the
 * key (set in the same script as the job) keeps doing so after retention has removed the job.
 *
 * Pushes that arrive in the same turn of the event loop are stored with one round trip
 * (`addBulk`, a MULTI of BullMQ's add scripts): under load this saves a socket write per push,
 * and each push is still answered only once its own job is stored.
 *
 * Once stored, each job takes its place in its customer's line (see ConversationLine), so the
 * order the gateway stored them in is the order the workers relay them in.
 */
export class InboundEnqueuer {
  private pending: Pending[] = [];
  private scheduled = false;

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
        setImmediate(() => this.flush());
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

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    const added = batch.length === 1 ? this.queue.add(batch[0]!.name, batch[0]!.data, batch[0]!.opts) : this.queue.addBulk(batch);
    const inLine = batch.filter((p) => takesTurn(p.data.message)).map((p) => ({ openid: p.data.message.fromUserName, jobId: p.opts.jobId! }));
    // The answer waits for the line too: a job stored but not in line could be overtaken by the
    // customer's next push. If the append fails, WeChat's retry stores nothing new and appends.
    added
      .then(() => this.line.appendMany(inLine))
      .then(
        () => {
          for (const p of batch) p.resolve();
        },
        (err: Error) => {
          for (const p of batch) p.reject(err);
        },
      );
  }
}
