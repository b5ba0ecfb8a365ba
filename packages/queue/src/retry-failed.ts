import type { Job, Queue } from 'bullmq';
import { withJobInHand } from './job-in-hand.js';
import { FAILED_KEPT_MS } from './job-options.js';

/** What a retry by hand did: how many jobs went back to wait, and the ones that did not, with why. */
export interface RetryOutcome {
  retried: number;
  skipped: { id: string; why: string }[];
}

/**
 * Retries the failed jobs of a queue (all, or those with the given ids) as a retry by hand should:
 * each goes back to wait with its attempts reset, so it has its full number of tries again. The
 * job keeps its id and data, and the relay sends it with the message ids it was first relayed
 * with, looking in the platform's history first when that was long ago. Retried oldest first (as
 * they were stored, named ones too), one at a time, each put in its customer's line by `placed`
 * before the next is retried: however many workers take them, a customer's messages go in the
 * order they came. A job not retried (gone, not failed, failed longer ago than FAILED_KEPT_MS, in
 * another hand's work, or Redis refusing) is named with why.
 *
 * A job that failed more than FAILED_KEPT_MS ago is refused: what it did is no longer kept, and a
 * retry would send again the parts that went and a reply its agent recalled. (BullMQ removes such
 * a job only when another job of its queue fails.) `placed` is told of every job retried, and
 * keeps what the job did for as long again (see lineOnRetry).
 */
export async function retryFailedJobs(
  queue: Queue,
  ids?: readonly string[],
  placed?: (job: Job) => Promise<void>,
  now: () => number = Date.now,
): Promise<RetryOutcome> {
  const outcome: RetryOutcome = { retried: 0, skipped: [] };
  // BullMQ's retry checks the job is failed (and not locked) in the same script that moves it.
  const retry = async (job: Job) => {
    if (job.finishedOn !== undefined && now() - job.finishedOn > FAILED_KEPT_MS) {
      const days = Math.floor((now() - job.finishedOn) / 86_400_000);
      outcome.skipped.push({
        id: job.id!,
        why: `it failed ${days} days ago, longer than the ${FAILED_KEPT_MS / 86_400_000} days the relay keeps what a job sent: a retry could send it twice; follow it up by hand, then remove it`,
      });
      return;
    }
    // Held while it moves, as a removal by hand holds it: neither acts on a state the other changed.
    // A job back in wait is no removal's any more, so its place in line is taken after.
    let moved: boolean | undefined;
    try {
      moved = await withJobInHand(queue, job.id!, () => retryHeld(job));
    } catch (err) {
      outcome.skipped.push({ id: job.id!, why: (err as Error).message });
      return;
    }
    if (moved === undefined) outcome.skipped.push({ id: job.id!, why: 'another hand is removing or retrying it right now: look again in a moment' });
    if (moved !== true) return;
    outcome.retried++;
    // Not caught: a job retried but not in its line would run behind the customer's later ones.
    await placed?.(job);
  };
  const retryHeld = async (job: Job): Promise<boolean> => {
    try {
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      return true;
    } catch (err) {
      const state = await job.getState().catch(() => 'unknown');
      outcome.skipped.push({ id: job.id!, why: state === 'failed' ? (err as Error).message : `it is ${state}, not failed` });
      return false;
    }
  };
  // Read at once (paging through a set that changes as jobs fail or are retried would skip some).
  let jobs: Job[];
  if (ids === undefined) jobs = await queue.getFailed(0, -1);
  else {
    jobs = [];
    for (const id of ids) {
      const job = await queue.getJob(id);
      if (job === undefined) outcome.skipped.push({ id, why: `no such job in ${queue.name}` });
      else jobs.push(job);
    }
  }
  jobs.sort((a, b) => a.timestamp - b.timestamp);
  for (const job of jobs) await retry(job);
  return outcome;
}
