import { type Job, type JobJson, Worker } from 'bullmq';

/**
 * BullMQ's Worker, fetching the next job only once the queue's marker says there may be one.
 *
 * BullMQ's own loop, once it has fetched a job, asks for the next one at once (a moveToActive),
 * and only after that one comes back empty waits on the queue's marker (BZPOPMIN). But every job
 * fetched sets the marker again (for the fleet's other workers), so that wait returns at once and
 * a second moveToActive looks at the same empty queue: two looks for each lone job where one
 * tells. Here the worker waits on the marker after every fetch: the first look comes right after
 * the marker that job set, and a job stored meanwhile sets it again, so nothing waits longer. In a
 * backlog each fetch is a marker pop and a moveToActive where it was a moveToActive alone, but
 * most jobs of a backlog come with the end of the one before (moveToFinished fetches the next).
 * The job fetched also starts at once instead of after the look for the next.
 *
 * What BullMQ keeps for this is `drained` ("the last look found nothing: wait on the marker before
 * the next"), a private field of the version pinned: should it be gone, the worker is BullMQ's own.
 */
export class MarkerWorker<T, R = unknown> extends Worker<T, R> {
  protected override async nextJobFromJobData(jobData?: JobJson, jobId?: string, token?: string): Promise<Job<T, R>> {
    const job = await super.nextJobFromJobData(jobData, jobId, token);
    const self = this as unknown as { drained?: unknown };
    if (typeof self.drained === 'boolean') self.drained = true;
    return job;
  }
}
