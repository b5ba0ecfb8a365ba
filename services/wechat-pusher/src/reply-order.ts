import type { ReplyJob } from '@wxim/queue';
import type { ConversationLine, Lease } from '@wxim/state';
import { DelayedError, type Job } from 'bullmq';
import { sleepUntil } from '@wxim/host';

/**
 * How long a reply waits for the agent's messages sent just before it to be stored: IM called back
 * for them first and gives a callback 2 s; past that their callbacks are lost, and the sweep finds
 * them later.
 */
export const ORDER_WAIT_MS = 3000;
/** How often a reply waiting for them looks again. */
const LOOK_AGAIN_MS = 200;

export interface ReplyOrderDeps {
  line: Pick<ConversationLine, 'placeAhead'>;
  /** ORDER_WAIT_MS unless given. */
  waitMs?: number;
  log: { debug(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Counts the agent's messages put ahead of a reply (`moved`) and those a reply went ahead of, not stored in time (`gave_up`). */
  counted?: (outcome: 'moved' | 'gave_up', messages: number) => void;
}

/**
 * The customer receives an agent's messages in the order the agent sent them, as IM's history
 * shows it, even when IM's callbacks for two quick messages come the other way round (they are
 * separate requests, possibly to two im-callbacks). A reply at the head of its line, before any of
 * it goes, puts the agent's messages sent just before it (`first`, from the look that confirmed
 * it) ahead of itself: one stored behind it moves ahead, and the reply steps aside (no attempt
 * spent) until it has gone, however long; one whose callback has not come yet has its place kept
 * ahead, and the reply steps aside until it is stored, or until ORDER_WAIT_MS has passed since
 * the reply was stored: then the place is given up (found later, it joins the end of the line)
 * and the reply goes without it.
 */
export async function afterEarlierMessages(deps: ReplyOrderDeps, job: Job<ReplyJob>, first: readonly string[], lease: Lease | undefined): Promise<void> {
  const waitMs = deps.waitMs ?? ORDER_WAIT_MS;
  const keep = Date.now() < job.data.acceptedAt + waitMs;
  const placed = await deps.line.placeAhead(job.data.openid, job.id!, first, 2 * waitMs, keep, lease);
  // Not the head any more (one of them took its kept place since this attempt's turn): its turn comes again.
  const wait = placed === undefined || placed.moved.length > 0 || (keep && placed.kept.length > 0);
  if (placed !== undefined && placed.moved.length > 0) deps.counted?.('moved', placed.moved.length);
  if (wait) {
    deps.log.debug({ jobId: job.id, agent: job.data.agent, ...placed }, "a reply waits for its agent's messages sent just before it");
    await sleepUntil(job, Date.now() + LOOK_AGAIN_MS, lease);
    throw new DelayedError();
  }
  if (placed.kept.length === 0) return;
  deps.counted?.('gave_up', placed.kept.length);
  deps.log.warn(
    { jobId: job.id, agent: job.data.agent, first: placed.kept },
    "the agent's messages sent just before this reply were not stored in time (their callbacks lost): it goes first, they follow when found in IM's history",
  );
}
