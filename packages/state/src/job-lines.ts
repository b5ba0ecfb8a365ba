import { type InboundJob, QUEUES, type QueueName, type ReplyJob } from '@wxim/queue';
import { PROGRESS_TTL_S, RELAY_IDS_TTL_S } from '@wxim/redis-scripts';
import type { Cluster, Redis } from 'ioredis';
import { ConversationLine } from './conversation-line.js';
import type { StateKeys } from './keys.js';
import { takesTurn } from './ordering.js';

/** The line a customer's push stands in (its openid), or undefined when it takes no turn (see takesTurn). */
export function inboundLineOf(job: InboundJob): string | undefined {
  return takesTurn(job.message) ? job.message.fromUserName : undefined;
}

/** The line an agent's reply stands in (its customer's openid); a signal (typing, a recall) takes none. */
export function replyLineOf(job: ReplyJob): string | undefined {
  return job.signal === undefined ? job.openid : undefined;
}

/**
 * Puts a job retried by hand in its customer's line at once (see retryFailedJobs), as its worker
 * would when it first looked: retried one after another, a customer's jobs then stand in the
 * order of the retries, whichever worker takes which first. Appending is done once per job: a
 * worker that got there first changes nothing.
 *
 * What the job did (its relay ids, a reply's progress) is kept as long again from now: a retry that
 * fails again before it writes any is retried by hand within the week of its new failure (see
 * retryFailedJobs), and finds it still.
 */
export function lineOnRetry(redis: Redis | Cluster, keys: StateKeys, queue: QueueName): (job: { id?: string; data: unknown }) => Promise<void> {
  const inbound = queue === QUEUES.wechatInbound;
  const state = inbound ? keys.relayIds : keys.replyProgress;
  const line = new ConversationLine(redis, keys, queue, state);
  return async (job) => {
    if (job.id === undefined) return;
    await redis.expire(state(job.id), inbound ? RELAY_IDS_TTL_S : PROGRESS_TTL_S);
    const openid = inbound ? inboundLineOf(job.data as InboundJob) : replyLineOf(job.data as ReplyJob);
    if (openid !== undefined) await line.append(openid, job.id);
  };
}
