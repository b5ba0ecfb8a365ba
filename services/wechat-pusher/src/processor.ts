import { type ImClient, textElem } from '@wxim/im';
import { type ReplyElement, type ReplyJob, UNCONFIRMED_REASON } from '@wxim/queue';
import type { ConversationLine, RateScope, ReplicaCheck } from '@wxim/relay';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { Redis, Cluster } from 'ioredis';
import { decide, errorFor } from '@wxim/runtime';
import type { PusherMetrics } from './metrics.js';
import { type Delivery, type DeliveryDeps, deliver } from './reply-delivery.js';
import { noticeIds, noticeText, reasonText } from './notice.js';
import { NotConfirmed, type ReplyConfirmation } from './reply-confirmation.js';
import { quoteOf } from './reply-plan.js';

interface Log {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface PusherDeps extends Omit<DeliveryDeps, 'turn' | 'replicas'> {
  /** REDIS_WAIT_REPLICAS: the job, and each part's `sending` mark, confirmed on the replicas before anything is sent; none when 0. */
  replicas?: Pick<ReplicaCheck, 'job' | 'confirm'>;
  /** Confirms a reply that came through a callback in IM's history first (CALLBACK_VERIFY=history); none when off. */
  confirmation?: ReplyConfirmation;
  redis: Redis | Cluster;
  im: ImClient;
  line: ConversationLine;
  wake: (jobId: string) => Promise<boolean>;
  rateLimit: (ms: number) => Promise<void>;
  /** A call's turn under its platform's pace, confirming the job's lock. */
  turn: (scope: RateScope, lease?: { lockKey: string; token: string; lockMs: number }) => Promise<number>;
  jobKeyPrefix: string;
  lockMs: number;
  metrics: PusherMetrics;
  log: Log;
  waitMs?: number;
}

export type PushResult = { outcome: 'delivered'; parts: number } | { outcome: 'noticed'; reason: string };

/**
 * The wechat-pusher's job: one agent reply delivered to its customer through WeChat, in the order
 * im-callback stored the customer's replies; or, when it cannot be, a notice back to its agent
 * in the same IM conversation saying why, and the job failed (visible on the dashboard).
 */
export function createPusher(deps: PusherDeps) {
  const { line, metrics, log } = deps;
  const waitMs = deps.waitMs ?? 30_000;

  async function takeTurn(job: Job<ReplyJob>, token: string | undefined): Promise<boolean> {
    const openid = job.data.openid;
    let turn = await line.turn(openid, job.id!);
    if (turn === 'absent') {
      await line.append(openid, job.id!);
      turn = await line.turn(openid, job.id!);
    }
    if (turn === 'head') return true;
    await job.moveToDelayed(Date.now() + waitMs, token);
    if ((await line.turn(openid, job.id!)) === 'head') await deps.wake(job.id!);
    return false;
  }

  /** Tells the agent, quoting the reply as IM's history holds it (`body`). */
  async function notify(
    job: Job<ReplyJob>,
    body: ReplyElement[],
    failed: Extract<Delivery, { delivered: false }>,
    lease: Parameters<PusherDeps['turn']>[1],
  ): Promise<void> {
    const { agent, userId, msgKey } = job.data;
    const text = noticeText(quoteOf(body), failed.why, { index: failed.part, of: failed.of });
    await deps.im.sendC2C(
      {
        from: userId,
        to: agent,
        ...noticeIds(job.id!),
        body: [textElem(text)],
        cloudCustomData: JSON.stringify({ source: 'relay-notice', replyTo: msgKey, reason: reasonText(failed.why) }),
      },
      { beforeSend: async (command) => (await deps.turn({ platform: 'im', command }, lease)) >= 0 },
    );
  }

  /**
   * What to deliver: a reply that came through a callback only once IM's history shows its agent
   * sent it, and as the history holds it (the callback's signature covers nothing of its body).
   * Replies found in the history itself need no second look.
   */
  async function bodyToDeliver(job: Job<ReplyJob>, lease: Parameters<PusherDeps['turn']>[1]): Promise<ReplyElement[]> {
    if (deps.confirmation === undefined || job.data.via !== 'callback') return job.data.body;
    const body = await deps.confirmation.confirm({ id: job.id!, data: job.data }, lease);
    if (JSON.stringify(body) !== JSON.stringify(job.data.body))
      log.warn({ jobId: job.id, agent: job.data.agent }, "the callback's body is not what IM's history holds: the history's is delivered");
    return body;
  }

  async function process(job: Job<ReplyJob>, token?: string): Promise<PushResult> {
    if (!(await takeTurn(job, token))) throw new DelayedError();
    const lease = token === undefined ? undefined : { lockKey: `${deps.jobKeyPrefix}${job.id}:lock`, token, lockMs: deps.lockMs };
    // Undefined until confirmed: nothing of an unconfirmed callback is ever quoted back to an agent.
    let body: ReplyElement[] | undefined;
    try {
      // A reply only a primary being replaced holds would vanish with it, and be found again on
      // the new primary (IM's history, by the sweep or a gap's recovery) and delivered twice.
      await deps.replicas?.job(lease);
      body = await bodyToDeliver(job, lease);
      // A later attempt (the notice failed, a crash) delivers again what is not sent yet: parts
      // WeChat confirmed are skipped, parts that may have arrived are reported, never resent.
      const result = await deliver({ id: job.id!, data: { ...job.data, body } }, { ...deps, turn: (api) => deps.turn({ platform: 'wechat', api }, lease) });
      if (result.delivered) {
        metrics.replies.inc({ outcome: 'delivered', via: job.data.via });
        metrics.latency.observe((Date.now() - job.data.acceptedAt) / 1000);
        return { outcome: 'delivered', parts: result.parts };
      }
      await notify(job, body, result, lease);
      const reason = reasonText(result.why);
      metrics.replies.inc({ outcome: result.why.kind === 'uncertain' ? 'uncertain' : 'undelivered', via: job.data.via });
      log.warn({ jobId: job.id, agent: job.data.agent, reason }, 'reply not delivered; its agent was told');
      throw new UnrecoverableError(`not delivered, agent notified: ${reason}`);
    } catch (err) {
      if (err instanceof UnrecoverableError || err instanceof DelayedError) throw err;
      if (err instanceof NotConfirmed) {
        // Not its agent's: nobody to tell in IM (the agent named never wrote it); the failed job and the warning show it.
        metrics.replies.inc({ outcome: 'unconfirmed', via: job.data.via });
        log.warn({ jobId: job.id, agent: job.data.agent, userId: job.data.userId, reason: err.message }, 'reply not delivered: not confirmed in IM history');
        throw new UnrecoverableError(`${UNCONFIRMED_REASON}: ${err.message}`);
      }
      const decision = decide(err);
      if (decision.action === 'give_up') {
        metrics.retries.inc({ class: decision.class });
        log.warn({ jobId: job.id, reason: (err as Error).message }, 'gave the job up: its lock is lost');
        throw err;
      }
      const last = decision.action === 'fail' || (decision.action === 'retry' && job.attemptsMade + 1 >= (job.opts.attempts ?? 1));
      if (last) {
        metrics.replies.inc({ outcome: 'failed', via: job.data.via });
        log.error({ jobId: job.id, reason: (err as Error).message }, 'reply failed for good');
        await lastWord(job, err as Error, lease, body);
      } else {
        metrics.retries.inc({ class: decision.class });
        log.warn({ jobId: job.id, class: decision.class, reason: (err as Error).message, attempt: job.attemptsMade + 1 }, 'reply will be retried');
        if (decision.action === 'slow_down') await deps.rateLimit(decision.ms);
      }
      throw errorFor(decision, err);
    }
  }

  /** A reply that failed for good after its retries: its agent is told too, if IM can be reached. */
  async function lastWord(job: Job<ReplyJob>, err: Error, lease: Parameters<PusherDeps['turn']>[1], body: ReplyElement[] | undefined): Promise<void> {
    if (body === undefined) {
      // Never confirmed (IM unreachable all along): its agent may never have written it.
      log.warn({ jobId: job.id, agent: job.data.agent }, "a reply that was never confirmed in IM's history failed for good: nobody is told in IM");
      return;
    }
    const why = { kind: 'gave_up' as const, reason: `it could not be delivered after ${job.attemptsMade + 1} attempts (${err.message})` };
    try {
      await notify(job, body, { delivered: false, why, part: 0, of: 1 }, lease);
    } catch (notified) {
      log.error({ jobId: job.id, reason: (notified as Error).message }, 'the agent could not be told either; the failed job shows it');
    }
  }

  /** After BullMQ recorded the job's end: leave the line, wake the next reply of the customer. */
  async function done(job: Job<ReplyJob>, failed: boolean): Promise<void> {
    const next = await line.finish(job.data.openid, job.id!, failed);
    if (next !== undefined) await deps.wake(next);
  }

  return { process, done };
}
