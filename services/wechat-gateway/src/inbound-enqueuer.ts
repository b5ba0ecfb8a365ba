import { DurableEnqueuer, type InboundJob, type LineAppender, dedupeTtlMs } from '@wxim/queue';
import { takesTurn } from '@wxim/state';
import { type WechatMessage, dedupeId } from '@wxim/wechat';
import type { Queue } from 'bullmq';

/**
 * Stores a push in `wechat-inbound` exactly once, in its customer's line (see DurableEnqueuer).
 * The job id comes from the push's own id; its dedupe key lives as long as a replay of the signed
 * request that brought it could pass the gateway's checks (see dedupeTtlMs).
 */
export class InboundEnqueuer {
  private readonly store: DurableEnqueuer<InboundJob>;

  constructor(queue: Queue<InboundJob>, line: LineAppender, timeoutMs: number, waitReplicas = 0) {
    this.store = new DurableEnqueuer(queue, line, timeoutMs, waitReplicas);
  }

  /** `signedAt`: the push's signed `timestamp` (seconds), which bounds how long a replay could pass. */
  async enqueue(message: WechatMessage, signedAt: number): Promise<string> {
    const id = dedupeId(message);
    const now = Date.now();
    await this.store.enqueue({
      name: message.kind,
      data: { message, receivedAt: now },
      jobId: id,
      dedupeTtlMs: dedupeTtlMs(signedAt, now),
      ...(takesTurn(message) ? { lineOf: message.fromUserName } : {}),
    });
    return id;
  }
}
