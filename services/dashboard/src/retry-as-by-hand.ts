import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { Job } from 'bullmq';

/**
 * A board retry is a retry by hand: the job gets its full attempts again (as `npm run
 * retry-failed` gives it), not one more try after its 60th. It keeps its id and data, so the
 * relay sends it with the message ids it was first sent with and looks in the platform's history
 * first when that was long ago; a reply keeps its progress, so no part WeChat confirmed goes twice.
 */
function retryingAsByHand<T extends Job | undefined>(job: T): T {
  if (job !== undefined) {
    const retry = job.retry.bind(job);
    job.retry = async (state, opts = {}) => {
      // What completed was delivered, and its progress is gone: a retry would send it again.
      if (state === 'completed') throw new CompletedNotRetried();
      return retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true, ...opts });
    };
  }
  return job;
}

/** A completed job retried from the board: refused, its message reached its recipient already. */
export class CompletedNotRetried extends Error {
  override readonly name = 'CompletedNotRetried';
  constructor() {
    super('a completed job is not retried: its message was delivered, and a retry would deliver it again');
  }
}

/** bull-board's BullMQ adapter, its retries (one job, or all) made as retries by hand. */
export class RelayQueueAdapter extends BullMQAdapter {
  override async getJob(id: string) {
    return retryingAsByHand(await super.getJob(id));
  }

  override async getJobs(...args: Parameters<BullMQAdapter['getJobs']>) {
    return (await super.getJobs(...args)).map(retryingAsByHand);
  }
}
