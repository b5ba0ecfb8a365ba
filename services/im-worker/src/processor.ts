import { type InboundJob, jobLockKey } from '@wxim/queue';
import {
  type Begun,
  type ConversationLine,
  type CustomerAction,
  type Lease,
  type RelayTurn,
  type ReplicaCheck,
  type ReplyWindow,
  takesTurn,
} from '@wxim/relay';
import { DelayedError, type Job } from 'bullmq';
import type { CustomerRelay, RelayResult } from './customer-relay.js';
import { decide, errorFor } from '@wxim/runtime';
import type { ImWorkerMetrics } from './metrics.js';

interface Log {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ProcessorDeps {
  relay: CustomerRelay;
  turn: RelayTurn;
  line: ConversationLine;
  /** Wakes a job that stepped aside (see wakeToFront); false if it was not delayed. */
  wake: (jobId: string) => Promise<boolean>;
  metrics: ImWorkerMetrics;
  log: Log;
  /** Holds the whole queue back after IM says "too many requests". */
  rateLimit: (ms: number) => Promise<void>;
  /** An IM call's turn under IM's rate cap, which also confirms the job's lock; resolves to Redis's time (ms). */
  imTurn: (command: string, lease?: Lease) => Promise<number>;
  /** The key prefix of the queue's jobs (their locks are `<prefix><id>:lock`) and the lock duration. */
  jobKeyPrefix: string;
  lockMs: number;
  /** How long a job waiting for its turn sleeps before looking again, if nobody wakes it. */
  waitMs?: number;
  /** Records the customer's action that opens WeChat's reply window (see ReplyWindow). */
  window: Pick<ReplyWindow, 'record'>;
  /** REDIS_WAIT_REPLICAS: the job confirmed on the replicas before anything is sent for it; none when 0. */
  replicas?: Pick<ReplicaCheck, 'job'>;
}

/** What a push tells about the customer's reply window: a message opens 48 h, a follow, scan or menu click 1 minute. */
export function windowAction(message: InboundJob['message']): CustomerAction | undefined {
  switch (message.kind) {
    case 'text':
    case 'image':
    case 'voice':
    case 'video':
    case 'shortvideo':
    case 'location':
    case 'link':
      return 'message';
    case 'subscribe':
    case 'scan':
    case 'click':
      return 'action';
    case 'unsubscribe':
    case 'location_event':
    case 'view':
    case 'report':
    case 'unknown':
      return undefined;
  }
}

const WAIT_MS = 30_000;

/**
 * The im-worker's job: one WeChat push relayed to IM, in its customer's order. A job whose
 * customer has an earlier push in flight steps aside (delayed, no attempt spent) and is woken
 * when that one is done; see ConversationLine.
 */
export function createProcessor(deps: ProcessorDeps) {
  const { relay, turn: relayTurn, line, metrics, log } = deps;
  const waitMs = deps.waitMs ?? WAIT_MS;

  async function wake(jobId: string | undefined): Promise<void> {
    // A job that is not delayed (still waiting to be picked, or active and about to see its
    // turn) is left as it is: nothing to do.
    if (jobId !== undefined) await deps.wake(jobId);
  }

  /** The job's turn when it may relay now; otherwise it has been set aside and this is undefined. */
  async function takeTurn(job: Job<InboundJob>, token: string | undefined, openid: string): Promise<Begun | undefined> {
    const assign = job.data.message.kind !== 'unsubscribe';
    let begun = await relayTurn.begin(openid, job.id!, assign);
    if (begun.turn === 'absent') {
      // The gateway appends on store; a job picked up before that, or stored by an older
      // gateway, takes its place now.
      await line.append(openid, job.id!);
      begun = await relayTurn.begin(openid, job.id!, assign);
    }
    if (begun.turn === 'head') return begun;
    metrics.parked.inc();
    await job.moveToDelayed(Date.now() + waitMs, token);
    // The head may have finished between our look and our stepping aside, and found us not yet delayed.
    if ((await line.turn(openid, job.id!)) === 'head') await wake(job.id);
    return undefined;
  }

  /**
   * After BullMQ has recorded the job as completed or failed for good: leave the line and wake
   * the next job. Not before: a worker that died between the two would otherwise run the job
   * again from the back of its line, behind later messages and perhaps past IM's duplicate
   * window. A finished job still at the head of its line is passed over (see ConversationLine),
   * so if this step is lost the next job goes on when it next looks (at most `waitMs`).
   */
  async function done(job: Job<InboundJob>, failed: boolean): Promise<void> {
    const { message } = job.data;
    if (takesTurn(message)) await wake(await line.finish(message.fromUserName, job.id!, failed));
  }

  async function process(job: Job<InboundJob>, token?: string): Promise<RelayResult> {
    const { message, receivedAt } = job.data;
    const openid = message.fromUserName;
    if (!takesTurn(message)) {
      metrics.relayed.inc({ kind: message.kind, outcome: 'skipped' });
      return { outcome: 'skipped', reason: `${message.kind} is not relayed` };
    }
    const begun = await takeTurn(job, token, openid);
    if (begun?.turn !== 'head') throw new DelayedError();
    const lease: Lease | undefined = token === undefined ? undefined : { lockKey: jobLockKey(deps.jobKeyPrefix, job.id!), token, lockMs: deps.lockMs };
    try {
      // After the turn, whose writes (the job's relay ids) the same confirmation covers: a job
      // only a primary being replaced holds would vanish with it, and WeChat's retry of the push,
      // stored on the new primary under the same id, would be relayed again (another MsgSeq).
      await deps.replicas?.job(lease);
      const action = windowAction(message);
      // The customer did act, whether or not IM takes the message: the agent may answer through WeChat.
      if (action !== undefined) await deps.window.record(openid, action, message.createTime * 1000, job.id);
      const result = await relay.relay(message, {
        dedupeId: job.id!,
        place: begun.place,
        firstAttemptAt: begun.firstAttemptAt,
        customer: begun.customer,
        confirm: (command) => deps.imTurn(command, lease),
      });
      metrics.relayed.inc({ kind: message.kind, outcome: result.outcome });
      if (result.outcome === 'relayed') metrics.latency.observe({ kind: message.kind }, (Date.now() - receivedAt) / 1000);
      return result;
    } catch (err) {
      const decision = decide(err);
      if (decision.action === 'give_up') {
        // Paused or cut off past its lock: another worker has the job; this one makes no more calls for it.
        metrics.retries.inc({ class: decision.class });
        log.warn({ jobId: job.id, kind: message.kind, reason: (err as Error).message }, 'gave the job up: its lock is lost');
        throw err;
      }
      const attempts = job.opts.attempts ?? 1;
      const last = decision.action === 'fail' || (decision.action === 'retry' && job.attemptsMade + 1 >= attempts);
      if (last) {
        // Failing for good: once BullMQ has recorded it (see `done`), the job leaves its line so
        // the customer's later messages go on.
        metrics.relayed.inc({ kind: message.kind, outcome: 'failed' });
        log.error({ jobId: job.id, kind: message.kind, reason: (err as Error).message }, 'relay failed for good');
      } else {
        metrics.retries.inc({ class: decision.class });
        log.warn(
          { jobId: job.id, kind: message.kind, class: decision.class, reason: (err as Error).message, attempt: job.attemptsMade + 1 },
          'relay will be retried',
        );
        if (decision.action === 'slow_down') await deps.rateLimit(decision.ms);
      }
      throw errorFor(decision, err);
    }
  }

  return { process, done };
}
