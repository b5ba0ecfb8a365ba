import { type InboundJob, DEDUPE_TTL_MS } from '@wxim/queue';
import { type WechatMessage, dedupeId } from '@wxim/wechat';
import type { Queue } from 'bullmq';

export class EnqueueTimeout extends Error {
  override readonly name = 'EnqueueTimeout';
}

/**
 * Stores a push in `wechat-inbound` exactly once. The job id and a deduplication key with a TTL
 * both come from the push's own id: the job id makes a repeat a no-op while the job exists, the
 * key (set in the same script as the job) keeps doing so after retention has removed the job.
 */
export class InboundEnqueuer {
  constructor(
    private readonly queue: Queue<InboundJob>,
    /** WeChat gives up after 5 s: past this, answer an error rather than hope. */
    private readonly timeoutMs: number,
  ) {}

  async enqueue(message: WechatMessage): Promise<string> {
    const id = dedupeId(message);
    const added = this.queue.add(message.kind, { message, receivedAt: Date.now() }, { jobId: id, deduplication: { id, ttl: DEDUPE_TTL_MS } });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EnqueueTimeout(`Redis did not take the job within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      await Promise.race([added, timeout]);
    } finally {
      clearTimeout(timer);
    }
    return id;
  }
}
