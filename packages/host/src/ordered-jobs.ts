import { jobLockKey } from '@wxim/queue';
import type { ConversationLine, Lease, Turn } from '@wxim/state';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { LOOK_AGAIN_MS } from './desk-policy.js';
import { decide, errorFor } from './error-policy.js';

/** A look at a job's place in its line; at the head it may carry what its turn began with (RelayTurn's customer). */
export type TurnLook = { turn: 'head' } | { turn: Exclude<Turn, 'head'> };

/** What a turn that reached the head of its line began with. */
export type Head<B extends TurnLook> = Extract<B, { turn: 'head' }>;

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What the protocol runs on: the queue's lines and what its host can do to the queue. */
export interface OrderedJobsDeps {
  /** The lines of this queue: each queue (direction) has lines of its own. */
  line: Pick<ConversationLine, 'append' | 'turn' | 'finish'>;
  /** Wakes a job that stepped aside (see wakeToFront); false if it was not delayed. */
  wake: (jobId: string) => Promise<boolean>;
  /** Holds every worker of the queue back after a platform says "too many requests" (`err`; see platformHolds). */
  rateLimit: (ms: number, err: unknown) => Promise<void>;
  /** The key prefix of the queue's jobs, e.g. `wxim:wechat-inbound:`: BullMQ locks a job at `<prefix><id>:lock`. */
  jobKeyPrefix: string;
  /** How long a job's lock lasts (WORKER_STALL_MS). */
  lockMs: number;
  /** How long a job that stepped aside sleeps before looking again, if nobody wakes it. */
  waitMs?: number;
  log: Log;
}

/** One attempt at a job whose turn it is: its work, and what to say if it is the last. */
export interface Attempt<R> {
  run(): Promise<R>;
  /**
   * The attempt failed and no other follows (already counted and logged): e.g. tell the person who
   * is waiting. Not when the lock is lost (the job is another worker's) nor for BullMQ's own errors
   * the work threw (it decided, and said so, itself). Handles its own errors.
   */
  failedForGood?(err: Error): Promise<void>;
  /**
   * The attempt failed and another follows after a wait (already counted and logged), while the
   * job still holds its lock: e.g. show the person waiting that it is queued. Not on a lost lock.
   * Handles its own errors; it must not hold the job up for long.
   */
  willRetry?(err: Error): Promise<void>;
}

/** A worker's metric and log words for the outcomes the protocol decides. */
export interface JobWords<T> {
  /** Log fields that name the job beyond its id (e.g. its kind). */
  fields?(job: Job<T>): Record<string, unknown>;
  /** Logged (warn) when an attempt failed and another follows, e.g. 'relay will be retried'. */
  willRetry: string;
  /** Logged (error) when the last attempt failed, e.g. 'relay failed for good'. */
  failedForGood: string;
  /** Counts an attempt that failed and is not the last, or a lost lock, by the decision's class. */
  retried(decisionClass: string): void;
  /** Counts a job failed for good. */
  failed(job: Job<T>): void;
  /** Counts a job that stepped aside for an earlier one of its line. */
  steppedAside?(job: Job<T>): void;
}

/** What a worker supplies to run its jobs one at a time per line. */
export interface OrderedJobSpec<T, R, B extends TurnLook = TurnLook> {
  /** The line a job stands in (its customer's openid), or undefined when it takes no turn: `outOfLine` runs it. */
  lineOf(job: Job<T>): string | undefined;
  /**
   * A job that takes no turn: run as it comes, with no lease. What its error means is decided as
   * for any job (see decide: retried and counted by class, failed at once when the platform means
   * it for good), with no last word of its own.
   */
  outOfLine?(job: Job<T>): Promise<R>;
  /** How a turn begins (e.g. RelayTurn, which also assigns the agent); by default a look at the line. The lease is the job's (none when run by hand). */
  begin?(line: string, job: Job<T>, lease: Lease | undefined): Promise<B>;
  /** The attempt of a job at the head of its line, with its lease (none when run by hand) and its turn. */
  attempt(job: Job<T>, lease: Lease | undefined, turn: Head<B>): Attempt<R>;
  /**
   * A job BullMQ failed itself, not by this process's decision (stalled more than maxStalledCount
   * times: its process died or froze on it again and again), once counted and logged: e.g. tell
   * the person waiting, as for a job whose attempts ran out. No lease. Handles its own errors.
   */
  failedByQueue?(job: Job<T>): Promise<void>;
  /**
   * The same, before the job leaves its line (a step that wakes the customer's next job): what
   * the next job must find changed already (e.g. a place the failed job held, freed). Handles its
   * own errors.
   */
  failedByQueueBeforeLeaving?(job: Job<T>): Promise<void>;
  words: JobWords<T>;
}

export interface OrderedJobs<T, R> {
  /** One job, with its lock token (absent when a tool runs a job by hand): the worker host's `process`. */
  process(job: Job<T>, token?: string): Promise<R>;
  /** The worker host's `done`: after BullMQ recorded the job's end, it leaves its line and the next job wakes. */
  done(job: Job<T>, failed: boolean): Promise<void>;
}

/** Jobs this process put to sleep in their current attempt (one Job object per attempt): see sleepUntil. */
const asleep = new WeakSet<Job>();

/**
 * Puts the job to sleep until `at` (moved to delayed, as the head of its line: the customer's
 * later jobs stay behind it), without spending an attempt. Its lock goes with it, so whatever
 * fails after this in the same attempt (a look again, a wake) does not fail the job: BullMQ could
 * not record that, and the job would be counted and logged as failed while it sleeps. Such an
 * error only costs the job an early wake (logged); it runs again at `at`.
 */
export async function sleepUntil(job: Job, at: number, lease?: Pick<Lease, 'token'>): Promise<void> {
  await job.moveToDelayed(at, lease?.token);
  asleep.add(job);
}

/**
 * Per-customer order for a queue's jobs, written once for every worker: a job runs only at the
 * head of its customer's line (see ConversationLine); one behind steps aside (delayed, no attempt
 * spent) and is woken when the one ahead is done. A job at the head runs under its lease (BullMQ's
 * lock, which every platform call confirms), and what its error means for the queue (retry, hold
 * the queue, wait alone at the head of its line, fail, give up) is decided in one place (see decide) and counted in the worker's words.
 */
export function orderedJobs<T, R, B extends TurnLook = TurnLook>(deps: OrderedJobsDeps, spec: OrderedJobSpec<T, R, B>): OrderedJobs<T, R> {
  const { line, log } = deps;
  const { words } = spec;
  const waitMs = deps.waitMs ?? LOOK_AGAIN_MS;
  // The jobs this process failed for good by its own decision, counted and logged then (a turn that
  // could not be taken too). Any other failure BullMQ records (stalled more than maxStalledCount
  // times) is counted and logged when it is seen (see `done`): never silent.
  const decided = new Set<string>();
  const begin = async (openid: string, job: Job<T>, lease: Lease | undefined): Promise<B> =>
    spec.begin === undefined ? ({ turn: await line.turn(openid, job.id!) } as B) : spec.begin(openid, job, lease);

  /** The job's turn when it may run now; otherwise it has been set aside and this is undefined. */
  async function takeTurn(job: Job<T>, lease: Lease | undefined, openid: string): Promise<Head<B> | undefined> {
    let begun = await begin(openid, job, lease);
    if (begun.turn === 'absent') {
      // The service that stores a job puts it in line in the same step; a job picked up before
      // that, or stored by an older release, takes its place now.
      await line.append(openid, job.id!);
      begun = await begin(openid, job, lease);
    }
    if (begun.turn === 'head') return begun as Head<B>;
    words.steppedAside?.(job);
    await sleepUntil(job, Date.now() + waitMs, lease);
    // The head may have finished between our look and our stepping aside, and found us not yet delayed.
    if ((await line.turn(openid, job.id!)) === 'head') await deps.wake(job.id!);
    return undefined;
  }

  function decidedFor(job: Job<T>): void {
    // Ids left by jobs whose end never reached this process (their lock lost meanwhile) are few;
    // past this many the oldest goes (a Set keeps insertion order), never a job still in flight.
    if (decided.size >= 10_000) decided.delete(decided.values().next().value!);
    decided.add(job.id!);
  }

  /** The error to throw for a failed attempt, once it is counted and logged (and, if last, said). */
  async function failure(job: Job<T>, err: unknown, attempt: Omit<Attempt<R>, 'run'>, lease: Lease | undefined): Promise<unknown> {
    // BullMQ's own errors are the work's decision already (e.g. a notice sent and the job failed, counted its own way).
    if (err instanceof DelayedError) return err;
    if (asleep.has(job)) {
      log.warn({ jobId: job.id, ...(words.fields?.(job) ?? {}), reason: (err as Error).message }, 'after the job went to sleep: it runs again at its time');
      return new DelayedError();
    }
    if (err instanceof UnrecoverableError) {
      decidedFor(job);
      return err;
    }
    const decision = decide(err);
    const fields = words.fields?.(job) ?? {};
    const reason = (err as Error).message;
    if (decision.action === 'give_up') {
      // Paused or cut off past its lock: another worker has the job; this one makes no more calls for it.
      words.retried(decision.class);
      log.warn({ jobId: job.id, ...fields, reason }, 'gave the job up: its lock is lost');
      return err;
    }
    const last = decision.action === 'fail' || (decision.action === 'retry' && job.attemptsMade + 1 >= (job.opts.attempts ?? 1));
    if (last) {
      // Failing for good: once BullMQ has recorded it (see `done`), the job leaves its line so the
      // customer's later jobs go on.
      decidedFor(job);
      words.failed(job);
      log.error({ jobId: job.id, ...fields, reason }, words.failedForGood);
      await attempt.failedForGood?.(err as Error);
    } else {
      words.retried(decision.class);
      log.warn({ jobId: job.id, ...fields, class: decision.class, reason, attempt: job.attemptsMade + 1 }, words.willRetry);
      if (decision.action === 'slow_down') await deps.rateLimit(decision.ms, err);
      await attempt.willRetry?.(err as Error);
      // At the head of its line, as a job that steps aside: the customer's later jobs stay behind it.
      if (decision.action === 'wait') await sleepUntil(job, Date.now() + decision.ms, lease);
    }
    return errorFor(decision, err);
  }

  async function process(job: Job<T>, token?: string): Promise<R> {
    const openid = spec.lineOf(job);
    const lease: Lease | undefined = token === undefined ? undefined : { lockKey: jobLockKey(deps.jobKeyPrefix, job.id!), token, lockMs: deps.lockMs };
    if (openid === undefined) {
      if (spec.outOfLine === undefined) throw new Error(`job ${job.id} stands in no line and its worker runs no job out of line`);
      try {
        return await spec.outOfLine(job);
      } catch (err) {
        throw await failure(job, err, {}, lease);
      }
    }
    let turn: Head<B> | undefined;
    try {
      turn = await takeTurn(job, lease, openid);
    } catch (err) {
      // Its turn could not be taken (Redis refusing, a lock lost while stepping aside): decided as
      // any failed attempt, with no last word (the work never began).
      throw await failure(job, err, {}, lease);
    }
    if (turn === undefined) throw new DelayedError();
    const attempt = spec.attempt(job, lease, turn);
    try {
      return await attempt.run();
    } catch (err) {
      throw await failure(job, err, attempt, lease);
    }
  }

  /**
   * After BullMQ has recorded the job as completed or failed for good: leave the line and wake the
   * next job (one script: ConversationLine.finish). Not before: a worker that died between the two would otherwise run the job again
   * from the back of its line, behind later jobs and perhaps past a platform's duplicate window.
   * A finished job still at the head of its line is passed over (see
   * ConversationLine), so if this step is lost the next job goes on when it next looks (at most
   * `waitMs`). A failure this process did not decide (see `decided`) is counted and logged here.
   */
  async function done(job: Job<T>, failed: boolean): Promise<void> {
    const byQueue = failed && !decided.delete(job.id!);
    if (byQueue) {
      words.failed(job);
      log.error({ jobId: job.id, ...(words.fields?.(job) ?? {}), reason: job.failedReason }, `${words.failedForGood} (by the queue)`);
    }
    const openid = spec.lineOf(job);
    if (byQueue) await spec.failedByQueueBeforeLeaving?.(job);
    // The line first: the customer's later jobs do not wait for what is said about this one, which
    // is said however the line's step went.
    try {
      if (openid !== undefined) await line.finish(openid, job.id!, failed);
    } finally {
      if (byQueue) await spec.failedByQueue?.(job);
    }
  }

  return { process, done };
}
