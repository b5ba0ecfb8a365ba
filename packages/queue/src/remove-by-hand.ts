import type { Job, Queue } from 'bullmq';
import { dedupeKey, queueClient } from './bullmq-layout.js';
import { withJobInHand } from './job-in-hand.js';

/** The states a job may be removed from by hand: finished. A job still to run holds its customer's place, and its message would be lost. */
export const REMOVABLE_STATES: ReadonlySet<string> = new Set(['completed', 'failed']);

/**
 * Removes a finished job by hand (the board's remove and clean), keeping its deduplication key for
 * what is left of its time. BullMQ's removal deletes that key, and it is what tells a platform's
 * retry of a push, or a sweep finding a reply in IM's history again, that the message was stored
 * already: without it, either would be stored and delivered a second time. Resolves to whether the
 * job was removed (false for a job not finished, one another hand removed first, or one another
 * hand is retrying or removing right now: see withJobInHand).
 */
export async function removeByHand(queue: Queue, job: Job): Promise<boolean> {
  // Held while it works: a retry by hand between the state read and the removal would be removed.
  return (await withJobInHand(queue, job.id!, () => removeFinished(queue, job))) ?? false;
}

async function removeFinished(queue: Queue, job: Job): Promise<boolean> {
  if (!REMOVABLE_STATES.has(await job.getState())) return false;
  const client = await queueClient(queue);
  const key = dedupeKey(queue.toKey(''), job.id!);
  // BullMQ's removal deletes the key only while it names the job: renamed first (its time kept),
  // it stays, with no moment between the removal and the key's return for a repeat to slip through.
  // Every reader asks only whether the key is there.
  await client.call('SET', key, `${job.id!}:removed`, 'XX', 'KEEPTTL');
  const removed = await job.remove().then(
    () => true,
    () => false,
  );
  if (!removed) await client.call('SET', key, job.id!, 'XX', 'KEEPTTL');
  return removed;
}

/**
 * Removes the queue's jobs in `state` (finished ones only) that finished more than `graceMs` ago,
 * each as removeByHand does. Resolves to how many were removed.
 */
export async function cleanByHand(queue: Queue, state: 'completed' | 'failed', graceMs: number, now = Date.now()): Promise<number> {
  let removed = 0;
  for (let start = 0; ; start += 100) {
    const page = await queue.getJobs([state], start, start + 99, true);
    if (page.length === 0) return removed;
    let here = 0;
    for (const job of page) if ((job.finishedOn ?? now) <= now - graceMs && (await removeByHand(queue, job))) here++;
    removed += here;
    start -= here; // the jobs removed left the set: the next page starts that much earlier
  }
}
