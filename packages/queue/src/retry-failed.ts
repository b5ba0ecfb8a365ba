import type { Job, Queue } from 'bullmq';

/**
 * Retries the failed jobs of a queue (all, or those with the given ids) as a retry by hand should:
 * each goes back to wait with its attempts reset, so it has its full number of tries again. The
 * job keeps its id and data, and the relay sends it with the message ids it was first relayed
 * with, looking in the platform's history first when that was long ago. Retried oldest first
 * (as they were stored), one at a time. Resolves to how many jobs were retried.
 */
export async function retryFailedJobs(queue: Queue, ids?: readonly string[]): Promise<number> {
  let retried = 0;
  // BullMQ's retry checks the job is failed (and not locked) in the same script that moves it.
  const retry = async (job: Job | undefined) => {
    if (job === undefined) return;
    const moved = await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true }).then(
      () => true,
      () => false,
    );
    if (moved) retried++;
  };
  if (ids !== undefined) {
    for (const id of ids) await retry(await queue.getJob(id));
    return retried;
  }
  // Oldest first, one after another: a retried job takes its place in its customer's line when it
  // is first looked at, so the order of the retries is the order its messages go in.
  // Read at once (paging through a set that changes as jobs fail or are retried would skip some).
  const failed = await queue.getFailed(0, -1);
  failed.sort((a, b) => a.timestamp - b.timestamp);
  for (const job of failed) await retry(job);
  return retried;
}
