import { QUEUES, type RecallOutcome, dedupeKey, jobKey, replyJobId } from '@wxim/queue';
import { relayScripts } from '@wxim/redis-scripts';
import type { Cluster, Redis } from 'ioredis';
import type { StateKeys } from './keys.js';

/**
 * How long a reply's end is kept for a recall to read: a day, far past IM's default recall limit
 * (two minutes) and any an app is likely set to. A recall later than that hears "it may have
 * reached the customer", never "stopped".
 */
export const REPLY_ENDED_TTL_MS = 24 * 3600 * 1000;

/** A `withdrawn` mark lives as long as a reply's progress: past the 50 hours in which a reply not stored yet may still be found and stored. */
export const WITHDRAWN_TTL_MS = 8 * 24 * 3600 * 1000;

/**
 * An agent's recall of a reply, decided on Redis in one script (see WITHDRAW): from the reply's
 * progress, the record of how it ended, and whether its job is finished or was ever stored. The
 * reply's own first send is the other side of the race (MARK_SENDING): exactly one of them wins.
 */
export class ReplyRecall {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: StateKeys,
  ) {}

  /** What the recall of the reply with this MsgKey does; the same answer when asked again. */
  async withdraw(msgKey: string, nowMs = Date.now()): Promise<RecallOutcome> {
    const id = replyJobId(msgKey);
    const jobs = this.keys.jobs(QUEUES.agentReplies);
    return relayScripts(this.redis).wximReplyWithdraw(
      this.keys.replyProgress(id),
      this.keys.replyEnded(id),
      jobKey(jobs, id),
      dedupeKey(jobs, id),
      WITHDRAWN_TTL_MS,
      String(nowMs),
    );
  }

  /**
   * Records how a reply ended (the pusher's outcome: `delivered`, `withdrawn`, …, or `failed`), before its job completes: its progress goes with the job's end, and
   * the job itself with retention, so this is what a later recall reads.
   */
  async ended(jobId: string, end: string): Promise<void> {
    await this.redis.set(this.keys.replyEnded(jobId), end, 'PX', REPLY_ENDED_TTL_MS);
  }

  /** How the reply ended, as `ended` recorded it (kept a day); null when it has not, or long ago. */
  async endedAs(jobId: string): Promise<string | null> {
    return this.redis.get(this.keys.replyEnded(jobId));
  }
}
