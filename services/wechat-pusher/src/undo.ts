import { type RecallOutcome, type ReplyJob, replyJobId } from '@wxim/queue';
import type { Lease, ReplyRecall } from '@wxim/state';
import { DelayedError, type Job } from 'bullmq';
import type { Redis, Cluster } from 'ioredis';
import { sleepUntil } from '@wxim/host';

export type { RecallOutcome } from '@wxim/queue';

export interface UndoDeps {
  /** Whether the reply is withdrawn by now: a part on its way when the recall came, refused by WeChat since (see UNMARK_SENDING). */
  withdrawnNow: (replyId: string) => Promise<boolean>;
  /** Decides a recall stored by the release before, which did not decide it when it came. */
  recall: Pick<ReplyRecall, 'withdraw'>;
  /** Wakes a reply that stepped aside to wait for its undo time (see wakeToFront). */
  wake: (jobId: string) => Promise<boolean>;
  /** Tells the agent in the customer's conversation (a relay notice, sent once per purpose). */
  tell: (job: Job<ReplyJob>, agent: string, purpose: string, text: string, lease: Lease | undefined) => Promise<void>;
}

/**
 * Whether the reply's agent recalled it in time (its progress hash is marked `withdrawn`): `after`
 * when the recall came while a part was on its way and WeChat then refused it (`recallAsked` kept),
 * so its agent, told it was too late, is to hear it was stopped after all; undefined when not withdrawn.
 */
export async function withdrawal(
  deps: { redis: Redis | Cluster; progressKey: (jobId: string) => string },
  jobId: string,
): Promise<'in_time' | 'after' | undefined> {
  const [withdrawn, asked] = await deps.redis.hmget(deps.progressKey(jobId), 'withdrawn', 'recallAsked');
  if (withdrawn === null) return undefined;
  return asked === null ? 'in_time' : 'after';
}

/**
 * A reply still inside its undo time steps aside until it is over, as the head of its customer's
 * line (later replies stay behind it) and without spending an attempt; a recall wakes it early.
 * Returns when it may go. Not for a reply run by hand (no lock to step aside with). `undoMs`:
 * REPLY_UNDO_MS, how long a reply waits from when the relay accepted it (0: not at all).
 */
export async function waitForUndo(deps: { undoMs: number }, job: Job<ReplyJob>, lease: Lease | undefined): Promise<void> {
  const until = job.data.acceptedAt + deps.undoMs;
  if (deps.undoMs === 0 || lease === undefined || until <= Date.now()) return;
  await sleepUntil(job, until, lease);
  throw new DelayedError();
}

/**
 * An agent recalled a message in IM (C2C.CallbackAfterMsgWithDraw); im-callback decided what that
 * did when the recall came (see ReplyRecall), so a backlog in this queue cannot turn a recall in
 * time into one too late. Here the agent is told, in the conversation: stopped (none of it went,
 * and it never will — also when the reply is not stored yet: its callback was lost and a sweep
 * finds it later), too late (WeChat has no recall: the customer has it), or, for a reply that
 * ended longer ago than the relay keeps how, that the customer may have it. A reply that had
 * ended without reaching the customer (`finished`) was explained to its agent then.
 */
export async function relayRecall(job: Job<ReplyJob>, deps: UndoDeps): Promise<RecallOutcome> {
  const replyId = replyJobId(job.data.msgKey);
  const outcome = job.data.recall ?? (await deps.recall.withdraw(job.data.msgKey));
  switch (outcome) {
    case 'finished':
      return outcome;
    case 'carried_out':
      await deps.tell(
        job,
        job.data.agent,
        'recall-too-late',
        '⚠ Relay notice — the command you recalled had already been carried out: recalling it does not undo it.',
        undefined,
      );
      return outcome;
    case 'stopped':
      // A reply waiting for its undo time ends now, so the customer's later replies go on.
      await deps.wake(replyId);
      await deps.tell(job, job.data.agent, 'recall-stopped', '↩ Relay notice — the message you recalled was stopped: the customer will not get it.', undefined);
      return outcome;
    case 'too_late':
      // Decided while a part was on its way, which WeChat has refused since: its reply job told the agent so.
      if (await deps.withdrawnNow(replyId)) return 'stopped';
      await deps.tell(
        job,
        job.data.agent,
        'recall-too-late',
        '⚠ Relay notice — the message you recalled had already been sent to the customer in WeChat. WeChat has no recall: they still have it.',
        undefined,
      );
      return outcome;
    case 'unknown':
      await deps.tell(
        job,
        job.data.agent,
        'recall-too-late',
        '⚠ Relay notice — the message you recalled was handled too long ago for the relay to know how it ended: it may already have reached the customer in WeChat. WeChat has no recall.',
        undefined,
      );
      return outcome;
  }
}
