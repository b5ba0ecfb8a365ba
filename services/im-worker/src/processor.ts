import type { InboundJob } from '@wxim/queue';
import {
  type ActionRecord,
  type AssignMode,
  type Begun,
  type CustomerAction,
  type Lease,
  type PaceTurn,
  type RelayTurn,
  type ReplicaCheck,
  type ReplyWindow,
  type RelayedMessage,
  inboundLineOf,
} from '@wxim/state';
import { KIND_RULES } from '@wxim/wechat';
import { DelayedError, type Job } from 'bullmq';
import type { CustomerRelay, RelayResult } from './customer-relay.js';
import { type Head, LOOK_AGAIN_MS, type OrderedJobs, type OrderedJobsDeps, orderedJobs, sleepUntil } from '@wxim/host';
import type { ImWorkerMetrics } from './metrics.js';
import type { CsatAnswers } from './csat-answer.js';

export interface ProcessorDeps extends OrderedJobsDeps {
  relay: CustomerRelay;
  turn: RelayTurn;
  metrics: ImWorkerMetrics;
  /** An IM call's turn under IM's rate cap, which also confirms the job's lock; resolves to Redis's time (ms). */
  imTurn: (command: string, lease?: Lease) => Promise<number>;
  /**
   * The same turn as the job's own turn takes it, in its one round trip (`of`: RateGate.turnOf):
   * for a message whose first IM call is its send (see firstImCall); and the rest of that turn
   * when the pace had no room and the job's turn reserved its slot (`startReserved`: waits for
   * it, then checks the lock and the cap). None: every call asks on its own.
   */
  imFirstTurn?: {
    of: (command: string, lease?: Lease) => PaceTurn;
    startReserved: (command: string, slotAt: number, lease?: Lease) => Promise<number>;
  };
  /** A WeChat call's turn under the fleet's WeChat pace (downloading customers' media), which also confirms the lock. */
  wechatTurn?: (api: string, lease?: Lease) => Promise<number>;
  /** Records the customer's action that opens WeChat's reply window (see ReplyWindow) for a job run out of line; a job in line records it as its turn begins (see RelayTurn). */
  window: Pick<ReplyWindow, 'record'>;
  /** REDIS_WAIT_REPLICAS: the job confirmed on the replicas before anything is sent for it; none when 0. */
  replicas?: Pick<ReplicaCheck, 'job'>;
  /** Records the customers' answers to the rating question. */
  csat: Pick<CsatAnswers, 'record'>;
  /**
   * What follows a customer's message relayed, in one round trip: FIRST_RESPONSE_SLA_S, it waits for
   * its agent's answer from then; WINDOW_WARNING_MS, the customer's window is watched for its
   * agent's warning; and who serves the customer now (always).
   */
  relayed: Pick<RelayedMessage, 'relayed'>;
  /** A place an agent held for a conversation was freed (see releaseUnreached): the customer waiting longest looks at once. */
  placeFreed?: () => Promise<unknown>;
}

/** A customer's message opens (or continues) a conversation; an event only goes to an agent; an unfollow needs none. */
export function assignMode(message: InboundJob['message']): AssignMode {
  if (message.kind === 'unsubscribe') return 'none';
  return KIND_RULES[message.kind].window === 'message' ? 'open' : 'attach';
}

/** What a push tells about the customer's reply window: a message opens 48 h, a follow, scan or menu click 1 minute. */
export function windowAction(message: InboundJob['message']): CustomerAction | undefined {
  return KIND_RULES[message.kind].window;
}

const SEND = 'openim/sendmsg';

/**
 * A first IM call's turn taken with the job's is used only this soon after it was asked for (ms):
 * its lock check stays right before the call, as when the call asks on its own. Later (a slow round
 * trip, a process paused), the call asks again, and the turn taken goes unused.
 */
const FIRST_TURN_FRESH_MS = 50;

/** The customer was handed to another agent after the message's turn began: it takes its turn again. */
class ServingChanged extends Error {
  override readonly name = 'ServingChanged';
}

const FETCHED_OR_IMPORTED_FIRST: ReadonlySet<InboundJob['message']['kind']> = new Set(['subscribe', 'unsubscribe', 'voice', 'video', 'shortvideo']);

/**
 * The IM call a job makes first when its customer is known to IM: the send, for every message but
 * a follow (which imports the customer first), an unfollow (which may delete them), and a voice or
 * video (whose media is fetched first, past the turn's freshness).
 */
function firstImCall(message: InboundJob['message']): string | undefined {
  return FETCHED_OR_IMPORTED_FIRST.has(message.kind) ? undefined : SEND;
}

/** The customer's action a job carries, as its turn records it (see RelayTurn.begin). */
function actionOf(job: Job<InboundJob>): ActionRecord | undefined {
  const { message } = job.data;
  const kind = windowAction(message);
  return kind === undefined ? undefined : { kind, atMs: message.createTime * 1000, id: job.id! };
}

/**
 * The im-worker's job: one WeChat push relayed to IM, in its customer's order (see orderedJobs).
 * Its turn begins with RelayTurn, which also gives a customer without one an agent.
 */
export function createProcessor(deps: ProcessorDeps): OrderedJobs<InboundJob, RelayResult> {
  const { relay, turn: relayTurn, metrics } = deps;

  /**
   * The job steps aside and is woken at once to the front of the queue, to go again from its place
   * without spending an attempt. Delayed into the future first: one due now could be promoted by
   * any worker's next fetch, to the back of the queue, before the wake.
   */
  async function stepAsideToFront(job: Job<InboundJob>, lease: Lease | undefined): Promise<never> {
    await sleepUntil(job, Date.now() + (deps.waitMs ?? LOOK_AGAIN_MS), lease);
    await deps.wake(job.id!);
    throw new DelayedError();
  }

  /**
   * A customer's message failed for good (by this process's decision or the queue's): when it
   * opened the conversation, its agent never got a word of it, and the place it held is freed
   * (RelayTurn.releaseUnreached) rather than held until CLOSE_AFTER_IDLE. Best-effort: a Redis
   * error leaves the place held, as before, and says so.
   */
  async function releaseUnreached(job: Job<InboundJob>): Promise<void> {
    try {
      const agent = await relayTurn.releaseUnreached(job.data.message.fromUserName, job.id!);
      if (agent === undefined) return;
      deps.log.info({ jobId: job.id, agent }, "the message that opened the conversation failed for good: the agent's place is freed");
    } catch (err) {
      deps.log.warn({ jobId: job.id, reason: (err as Error).message }, 'could not free the place of a conversation whose first message failed for good');
      return;
    }
    await deps
      .placeFreed?.()
      .catch((err: Error) =>
        deps.log.warn({ jobId: job.id, reason: err.message }, 'could not wake the customers waiting for the place freed; they look again by themselves'),
      );
  }

  async function relayPush(job: Job<InboundJob>, lease: Lease | undefined, begun: Head<Begun>): Promise<RelayResult> {
    const { message, receivedAt } = job.data;
    const openid = message.fromUserName;
    const action = windowAction(message);
    // The customer's action is recorded already: the turn that brought the job to the head of its
    // line did, before anything later of theirs can be (see RelayTurn.begin).
    if (message.kind !== 'unsubscribe' && begun.customer.agent === undefined) {
      // No agent online with room: the conversation waits, its later messages behind it, until an
      // agent logs in or frees a place (and wakes it), or it looks again after `waitMs`. No attempt is spent.
      metrics.waitingForAgent.inc();
      await sleepUntil(job, Date.now() + (deps.waitMs ?? LOOK_AGAIN_MS), lease);
      // A place may have freed while the job was still active, its wake lost: one more look.
      const again = await relayTurn.begin(openid, job.id!, 'open');
      if (again.turn === 'head' && again.customer.agent !== undefined) await deps.wake(job.id!);
      throw new DelayedError();
    }
    // After the turn, whose writes (the job's relay ids) the same confirmation covers: a job
    // only a primary being replaced holds would vanish with it, and WeChat's retry of the push,
    // stored on the new primary under the same id, would be relayed again (another MsgSeq).
    await deps.replicas?.job(lease);
    // The first call's turn, if the job's turn took it, is used by that call if it comes at once.
    let firstCall = begun.firstCall;
    const serving = begun.customer.agent;
    // The turn of an IM call: the one the job's turn took, if it comes at once; else its own.
    const turnOf = (command: string, taken: typeof firstCall, atOnce: boolean): Promise<number> => {
      if (taken === undefined) return deps.imTurn(command, lease);
      // A reserved slot: the send waits for it and asks once more ('start'), which checks the
      // lock right before the call as its own turn would; the slot is used however late it comes.
      if (taken.slotAt !== undefined && command === SEND && deps.imFirstTurn !== undefined) {
        metrics.firstTurns.inc({ outcome: 'reserved' });
        return deps.imFirstTurn.startReserved(command, taken.slotAt, lease);
      }
      const fresh = atOnce && command === SEND;
      metrics.firstTurns.inc({ outcome: fresh ? 'used' : 'unused' });
      return fresh ? Promise.resolve(taken.at) : deps.imTurn(command, lease);
    };
    /** `continuing`: the send goes on with a message begun to the agent (a long text's later part): not looked at again. */
    const confirm = async (command: string, continuing = false): Promise<number> => {
      const taken = firstCall;
      firstCall = undefined;
      const atOnce = taken !== undefined && taken.slotAt === undefined && performance.now() - taken.askedAt <= FIRST_TURN_FRESH_MS;
      const at = await turnOf(command, taken, atOnce);
      // Past the moment its turn began (a download, an import, the replicas, the wait for its slot
      // under IM's pace), the customer may have been handed on (/transfer, a first answer overdue):
      // looked at once the send's turn has come, right before it leaves, so the message goes to
      // whoever serves them now, never to the agent who let them go. A send that comes at once,
      // with the turn its job's turn took, needs no second look.
      if (command === SEND && serving !== undefined && !atOnce && !continuing && (await relayTurn.servingAgent(openid)) !== serving)
        throw new ServingChanged(`the customer is no longer with ${serving}`);
      return at;
    };
    const relaying = relay
      .relay(message, {
        dedupeId: job.id!,
        place: begun.place,
        firstAttemptAt: begun.firstAttemptAt,
        ...(begun.firstAgent === undefined ? {} : { firstAgent: begun.firstAgent }),
        attempt: job.attemptsMade + 1,
        attempts: job.opts.attempts ?? 1,
        customer: begun.customer,
        confirm,
        ...(deps.wechatTurn === undefined ? {} : { wechatTurn: (api: string) => deps.wechatTurn!(api, lease) }),
      })
      // A relay that failed before its first call leaves its turn unused.
      .finally(() => {
        if (firstCall !== undefined) metrics.firstTurns.inc({ outcome: 'unused' });
      });
    let result: RelayResult;
    try {
      result = await relaying;
    } catch (err) {
      if (!(err instanceof ServingChanged)) throw err;
      deps.log.info(
        { jobId: job.id, kind: message.kind, reason: err.message },
        'the customer was handed on while their message was on its way: it goes to their new agent',
      );
      // Nothing was sent: the job takes its turn again at once, from its place (the front of the
      // queue, not behind a backlog: its customer's later messages wait for it), without spending an attempt.
      // When this turn recorded the agent as the job's first, no attempt sent them anything: the
      // next turn records the new agent instead, so the message is no retry to a second agent
      // (should that fail, it only counts as one: the message still goes to the new agent, and the
      // log says the first agent was never sent it).
      if (begun.firstAgentNew && lease !== undefined && serving !== undefined)
        await relayTurn.forgetFirstAgent(job.id!, serving, lease).catch((forgetting: Error) => {
          deps.log.warn(
            { jobId: job.id, agent: serving, reason: forgetting.message },
            'could not forget the first agent of a message never sent to them: its relay to the new agent will count as a handed-on retry, though that agent holds nothing',
          );
          return false;
        });
      return await stepAsideToFront(job, lease);
    }
    if (result.outcome === 'relayed' && result.agent !== undefined && message.kind !== 'unsubscribe') {
      // A message, not a follow or a menu click, is what asks for an answer: its steps read who
      // serves the customer now in their round trip; an event reads it on its own.
      let agentNow: string | undefined;
      if (action === 'message') {
        const after = await deps.relayed.relayed(openid, Date.now(), message.createTime * 1000);
        if (after.unwatched > 0) metrics.windowsUnwatched.inc(after.unwatched);
        agentNow = after.agent;
      } else agentNow = await relayTurn.servingAgent(openid);
      // Handed on in the moment between the look before the send and its arrival at IM: the agent
      // who let the customer go has it, the new one would never see it. Relayed again, to them
      // (a new message to IM: see imMessageIds), at once, from its place, without spending an attempt.
      if (agentNow !== undefined && agentNow !== result.agent) {
        deps.log.info(
          { jobId: job.id, kind: message.kind, agent: result.agent, agentNow },
          'the customer was handed on while their message reached IM: it is relayed again, to their new agent',
        );
        return await stepAsideToFront(job, lease);
      }
    }
    if (result.warning !== undefined) deps.log.warn({ jobId: job.id, kind: message.kind, agent: result.agent }, result.warning);
    if (result.handedOnFrom !== undefined) {
      metrics.handedOnRetries.inc();
      deps.log.info(
        { jobId: job.id, kind: message.kind, agent: result.agent, firstAgent: result.handedOnFrom, attempt: job.attemptsMade + 1 },
        'relayed by a retry to the customer’s new agent: the agent an earlier attempt sent to may hold the message too',
      );
    }
    metrics.relayed.inc({ kind: message.kind, outcome: result.outcome });
    // From when it could go: a message that waited for an agent (the desk full, or nobody online) is
    // measured from when the wait ended; the wait itself is the desk's, not IM's. A queue's own
    // delay counts, for a message opening a conversation too.
    if (result.outcome === 'relayed') metrics.latency.observe({ kind: message.kind }, (Date.now() - Math.max(receivedAt, begun.waitEndedAt ?? 0)) / 1000);
    return result;
  }

  return orderedJobs<InboundJob, RelayResult, Begun>(deps, {
    lineOf: (job) => inboundLineOf(job.data),
    outOfLine: async (job) => {
      const { message } = job.data;
      // Not relayed, yet some still let the account answer (a tap on a rating question is a menu click).
      const action = windowAction(message);
      if (action !== undefined) await deps.window.record(message.fromUserName, action, message.createTime * 1000, job.id);
      const reason = message.kind === 'rating' ? `rating answer, ${await deps.csat.record(message)}` : `${message.kind} is not relayed`;
      metrics.relayed.inc({ kind: message.kind, outcome: 'skipped' });
      return { outcome: 'skipped', reason };
    },
    // At the head, the turn also records the customer's action in their reply window: the customer
    // did act, whether or not IM takes the message (or it waits for an agent), so the agent may
    // answer through WeChat. Recorded once per job (a second look records nothing new).
    // With REDIS_WAIT_REPLICAS the replicas are waited for between the turn and the first call: that call asks on its own.
    begin: (openid, job, lease) => {
      const first = deps.replicas === undefined ? firstImCall(job.data.message) : undefined;
      const firstTurn = first === undefined ? undefined : deps.imFirstTurn?.of(first, lease);
      return relayTurn.begin(openid, job.id!, assignMode(job.data.message), actionOf(job), firstTurn);
    },
    attempt: (job, lease, begun) => ({ run: () => relayPush(job, lease, begun), failedForGood: () => releaseUnreached(job) }),
    // Before the line moves on: the customer's next message must not begin in the conversation about to close.
    failedByQueueBeforeLeaving: (job) => (inboundLineOf(job.data) === undefined ? Promise.resolve() : releaseUnreached(job)),
    words: {
      fields: (job) => ({ kind: job.data.message.kind }),
      willRetry: 'relay will be retried',
      failedForGood: 'relay failed for good',
      retried: (decisionClass) => metrics.retries.inc({ class: decisionClass }),
      failed: (job) => metrics.relayed.inc({ kind: job.data.message.kind, outcome: 'failed' }),
      steppedAside: () => metrics.parked.inc(),
    },
  });
}
