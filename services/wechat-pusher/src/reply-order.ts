import type { ReplyJob } from '@wxim/queue';
import type { ConversationLine, Lease } from '@wxim/state';
import { DelayedError, type Job } from 'bullmq';
import type { Redis, Cluster } from 'ioredis';

/**
 * How long a reply waits for the agent's messages sent just before it to be stored: IM called back
 * for them first and gives a callback 2 s; past that their callbacks are lost, and the sweep finds
 * them later.
 */
export const ORDER_WAIT_MS = 3000;
/** How often a reply waiting for them looks again. */
const LOOK_AGAIN_MS = 200;

export interface ReplyOrderDeps {
  line: Pick<ConversationLine, 'placeAhead' | 'forgetAhead'>;
  /** ORDER_WAIT_MS unless given. */
  waitMs?: number;
  redis: Redis | Cluster;
  progressKey: (jobId: string) => string;
  log: { debug(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/**
 * The customer receives an agent's messages in the order the agent sent them, as IM's history
 * shows it, even when IM's callbacks for two quick messages come the other way round (they are
 * separate requests, possibly to two im-callbacks). A reply at the head of its line, before any of
 * it goes, puts the agent's messages sent just before it (`first`, from the look that confirmed
 * it) ahead of itself: one stored behind it moves ahead; one whose callback has not come yet has
 * its place kept ahead, and the reply steps aside (no attempt spent) until it is stored or
 * ORDER_WAIT_MS has passed since the reply was stored, when it goes without it (and the place is
 * given up: found later, it joins the end of the line).
 */
export async function afterEarlierMessages(deps: ReplyOrderDeps, job: Job<ReplyJob>, first: readonly string[], lease: Lease | undefined): Promise<void> {
  const { openid } = job.data;
  const waitMs = deps.waitMs ?? ORDER_WAIT_MS;
  const waiting = await deps.line.placeAhead(openid, job.id!, first, 2 * waitMs);
  if (waiting.length > 0 && Date.now() < job.data.acceptedAt + waitMs) {
    deps.log.debug({ jobId: job.id, agent: job.data.agent, first: waiting }, "a reply waits for its agent's messages sent just before it");
    await job.moveToDelayed(Date.now() + LOOK_AGAIN_MS, lease?.token);
    throw new DelayedError();
  }
  if (waiting.length > 0) {
    await deps.line.forgetAhead(openid, waiting);
    deps.log.warn(
      { jobId: job.id, agent: job.data.agent, first: waiting },
      "the agent's messages sent just before this reply were not stored in time (their callbacks lost): it goes first, they follow when found in IM's history",
    );
  }
  // Looked at once more only while some were to go first.
  await deps.redis.hdel(deps.progressKey(job.id!), 'first');
}
