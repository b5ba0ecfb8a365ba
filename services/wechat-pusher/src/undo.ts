import { type ReplyJob, replyJobId } from '@wxim/queue';
import { relayScripts } from '@wxim/redis-scripts';
import type { Lease } from '@wxim/state';
import { DelayedError, type Job } from 'bullmq';
import type { Redis, Cluster } from 'ioredis';
import { PROGRESS_TTL_MS } from './reply-delivery.js';

/** `finished`: the reply had already ended without reaching the customer (its agent was told why then). */
export type RecallOutcome = 'stopped' | 'too_late' | 'finished';

export interface UndoDeps {
  redis: Redis | Cluster;
  progressKey: (jobId: string) => string;
  /** REPLY_UNDO_MS: how long a reply waits, from when the relay accepted it, for its agent's recall (0: not at all). */
  undoMs: number;
  /** Wakes a reply that stepped aside to wait for its undo time (see wakeToFront). */
  wake: (jobId: string) => Promise<boolean>;
  /** Tells the agent in the customer's conversation (a relay notice, sent once per purpose). */
  tell: (job: Job<ReplyJob>, agent: string, purpose: string, text: string, lease: Lease | undefined) => Promise<void>;
  /** How a reply's job ended (its outcome, or `failed`); undefined while it has not. */
  replyEnded: (jobId: string) => Promise<string | undefined>;
}

/** Whether the reply's agent recalled it in time (its progress hash is marked `withdrawn`). */
export async function isWithdrawn(deps: Pick<UndoDeps, 'redis' | 'progressKey'>, jobId: string): Promise<boolean> {
  return (await deps.redis.hexists(deps.progressKey(jobId), 'withdrawn')) === 1;
}

/**
 * A reply still inside its undo time steps aside until it is over, as the head of its customer's
 * line (later replies stay behind it) and without spending an attempt; a recall wakes it early.
 * Returns when it may go. Not for a reply run by hand (no lock to step aside with).
 */
export async function waitForUndo(deps: Pick<UndoDeps, 'undoMs'>, job: Job<ReplyJob>, lease: Lease | undefined): Promise<void> {
  const until = job.data.acceptedAt + deps.undoMs;
  if (deps.undoMs === 0 || lease === undefined || until <= Date.now()) return;
  await job.moveToDelayed(until, lease.token);
  throw new DelayedError();
}

/**
 * An agent recalled a message in IM (C2C.CallbackAfterMsgWithDraw). Either it stops the reply —
 * none of it went yet, and it never will (also when the reply is not stored yet: its callback was
 * lost and a sweep finds it later) — or it came too late: WeChat has no recall, the customer has
 * it. One atomic script on the reply's progress hash decides (see MARK_SENDING, which marks the
 * first part `sending` only if not withdrawn): a recall racing the send is one or the other,
 * never both. The agent is told which, in the conversation.
 */
export async function relayRecall(job: Job<ReplyJob>, deps: UndoDeps): Promise<RecallOutcome> {
  const replyId = replyJobId(job.data.msgKey);
  let outcome: RecallOutcome = await relayScripts(deps.redis).wximReplyWithdraw(deps.progressKey(replyId), PROGRESS_TTL_MS, String(Date.now()));
  if (outcome === 'stopped') {
    // A reply's progress goes once it has ended (see ConversationLine): one that ended before the
    // recall came was not stopped by it. Ended before the script ran, as the line's finish follows the end.
    const ended = await deps.replyEnded(replyId);
    if (ended === 'delivered') outcome = 'too_late';
    else if (ended !== undefined && ended !== 'withdrawn') outcome = 'finished';
  }
  if (outcome === 'finished') return outcome;
  if (outcome === 'stopped') {
    // A reply waiting for its undo time ends now, so the customer's later replies go on.
    await deps.wake(replyId);
    await deps.tell(job, job.data.agent, 'recall-stopped', '↩ Relay notice — the message you recalled was stopped: the customer will not get it.', undefined);
  } else {
    await deps.tell(
      job,
      job.data.agent,
      'recall-too-late',
      '⚠ Relay notice — the message you recalled had already been sent to the customer in WeChat. WeChat has no recall: they still have it.',
      undefined,
    );
  }
  return outcome;
}
