/**
 * A job's lock is no longer this worker's: it was paused or cut off from Redis for longer than
 * the lock lasts, and another worker has taken the job over. This worker must not call the
 * platform for it any more; it gives the job up.
 */
export class LockLostError extends Error {
  override readonly name = 'LockLostError';
}
