import { type Besides, DurableEnqueuer, type InboundJob, type LineAppender, type TransactionPart, dedupeTtlMs } from '@wxim/queue';
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

  /** `parts`: what else the store's transactions may run (see Besides). */
  constructor(
    queue: Queue<InboundJob>,
    line: LineAppender,
    /** How long a push may take to store from its arrival before it is answered 503. */
    readonly budgetMs: number,
    waitReplicas = 0,
    parts: readonly TransactionPart[] = [],
    /** Told of the pushes to be stored again (their jobs' names), each time Redis was away for their transaction. */
    retrying?: (pushes: readonly string[]) => void,
  ) {
    this.store = new DurableEnqueuer(queue, line, budgetMs, waitReplicas, parts, retrying);
  }

  close(): Promise<void> {
    return this.store.close();
  }

  /**
   * `signedAt`: the push's signed `timestamp` (seconds), which bounds how long a replay could pass.
   * `besides`: commands for the transaction that stores it. `since`: when the push arrived (ms),
   * whence the store's budget counts.
   */
  async enqueue(message: WechatMessage, signedAt: number, besides?: Besides, since = Date.now()): Promise<string> {
    const id = dedupeId(message);
    const now = Date.now();
    await this.store.enqueue(
      {
        name: message.kind,
        data: { message, receivedAt: now },
        jobId: id,
        dedupeTtlMs: dedupeTtlMs(signedAt, now),
        ...(takesTurn(message) ? { lineOf: message.fromUserName } : {}),
      },
      besides,
      since,
    );
    return id;
  }
}
