import type { Job, Queue } from 'bullmq';

/**
 * Retries the failed jobs of a queue (all, or those with the given ids) as a retry by hand should:
 * each goes back to wait with its attempts reset, so it has its full number of tries again. The
 * job keeps its id and data, and the relay sends it with the message ids it was first relayed
 * with, looking in the platform's history first when that was long ago. Resolves to how many
 * jobs were retried.
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
  // Newest first: each retried job leaves the failed set, so the first page is always the next one.
  for (;;) {
    const page = await queue.getFailed(0, 99);
    const before = retried;
    for (const job of page) await retry(job);
    if (retried === before) return retried; // empty, or only jobs that could not be retried
  }
}
