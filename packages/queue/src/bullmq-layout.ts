import { Job, type JobsOptions, type Queue, createIORedisClient } from 'bullmq';
import type { ChainableCommander, Redis } from 'ioredis';
import { type RedisClient, whenConnected } from './connection.js';

// Everything the relay assumes about BullMQ beyond its public API: the names of its keys, what its
// scripts do with them, the job hash's fields, and two internal calls. Written against the pinned
// BullMQ 6.7.0; test/bullmq-contract.test.ts checks each assumption against the real library, so
// an upgrade that breaks one fails there first.

/** BullMQ's prefix when a queue is given none. */
const BULLMQ_DEFAULT_PREFIX = 'bull';

/**
 * The key prefix of a queue's jobs, `<prefix>:<queue>:` (BullMQ's `queue.keys['']`): a job's hash
 * is this prefix and its id, its lock the same with `:lock`.
 */
export function jobKeyPrefix(prefix: string, queue: string): string {
  return `${prefix}:${queue}:`;
}

/** A job's hash: its data, options and the fields in {@link JOB_FIELDS}. */
export function jobKey(jobKeyPrefix: string, id: string): string {
  return `${jobKeyPrefix}${id}`;
}

/**
 * The lock BullMQ's worker holds on an active job: SET to the worker's token, with a PX of its
 * lockDuration, when the job is taken, and renewed while it runs. A job whose lock is not ours any
 * more (stalled and taken by another worker) must not act.
 */
export function jobLockKey(jobKeyPrefix: string, id: string): string {
  return `${jobKey(jobKeyPrefix, id)}:lock`;
}

/**
 * The deduplication key of a job stored with `deduplication: { id, ttl }` (see DurableEnqueuer):
 * `<prefix>:<queue>:de:<id>`, holding the job's id for the ttl. Retention (removeOnComplete,
 * removeOnFail) leaves it; BullMQ's own removal deletes it, but only while it still names the job,
 * which removeByHand relies on to keep it (checked in test/remove-by-hand.test.ts).
 */
export function dedupeKey(jobKeyPrefix: string, id: string): string {
  return `${jobKeyPrefix}de:${id}`;
}

/** Fields of a job's hash that the relay reads or writes itself. */
export const JOB_FIELDS = {
  /** When the job was stored (ms): the dashboard's age of a job. */
  created: 'timestamp',
  /** Set when the job completed or failed for good: a line drops a job that has it (see the line scripts). */
  finishedOn: 'finishedOn',
  /** The job's delay (ms); BullMQ's promote sets it to 0, and so does the wake to the front. */
  delay: 'delay',
  /** The job's data, as JSON: the first-response check reads a waiting reply's agent from it (see SLA_MOVE). */
  data: 'data',
  /** Why its last attempt failed: set by a failed attempt and kept; with no `returnvalue`, a job finished with it failed for good (see WITHDRAW). */
  failedReason: 'failedReason',
  /** What the job completed with: set only when it completes. */
  returnvalue: 'returnvalue',
} as const;

/** The keys of one queue that the relay touches, each as BullMQ names it (`<prefix>:<queue>:<type>`). */
export interface QueueLayout {
  /** The key prefix of the queue's jobs (see {@link jobKeyPrefix}). */
  jobs: string;
  /**
   * The wait list: BullMQ LPUSHes a new job on its left and a worker takes jobs from its right
   * (RPOPLPUSH to `active`), so the right end is the job that waited longest and is taken next.
   */
  wait: string;
  /** The list of jobs being processed; with a `concurrency` in `meta`, its length is what "maxed" counts. */
  active: string;
  /** Delayed jobs (retries with backoff, jobs stepping aside for their turn), scored by when they are due. */
  delayed: string;
  /** The queue's settings hash: `paused` (set while paused) and `concurrency` (a global cap) among them. */
  meta: string;
  /** A sorted set a worker blocks on (BZPOPMIN): a member in it wakes a worker to look for a job. */
  marker: string;
  /** The queue's event stream (XADD): QueueEvents reads `waiting`, `active`, … from it. */
  events: string;
  /**
   * The rate limiter: while a worker has a `limiter`, each job it takes INCRs this key (expiring
   * after the limiter's duration), and no worker takes a job while the value is at least the
   * limiter's `max`, until the key expires. Setting it to `max` with a PX holds the queue.
   */
  limiter: string;
}

/** The keys of queue `queue` under `prefix` (the one the queue's Queue and Workers are given). */
export function queueLayout(prefix: string, queue: string): QueueLayout {
  const key = (type: string) => `${prefix}:${queue}:${type}`;
  return {
    jobs: jobKeyPrefix(prefix, queue),
    wait: key('wait'),
    active: key('active'),
    delayed: key('delayed'),
    meta: key('meta'),
    marker: key('marker'),
    events: key('events'),
    limiter: key('limiter'),
  };
}

/** The keys of a BullMQ queue (by its name and prefix). */
export function layoutOf(queue: Queue): QueueLayout {
  return queueLayout(queue.opts.prefix ?? BULLMQ_DEFAULT_PREFIX, queue.name);
}

/**
 * BullMQ's Redis client of a queue (the connection it was given), with BullMQ's scripts defined on
 * it: a transaction on it can run them. Not public API (`queue.backend.client`).
 */
export function queueClient(queue: Queue): Promise<RedisClient> {
  return (queue.backend as unknown as { client: Promise<RedisClient> }).client;
}

/** BullMQ's scripts that store a job ({@link addJobIn} runs one of them), by their command names (`<script>:<version>`). */
const ADD_JOB_SCRIPT = /^add(Standard|Delayed|Prioritized)Job:/;

type ScriptSet = Record<string, { lua: string; numberOfKeys: number | null }>;

/**
 * A connection of its own for transactions that store a queue's jobs ({@link addJobIn}): a
 * duplicate of the queue's, with BullMQ's add-job scripts copied from the queue's connection (so
 * they are the installed BullMQ's, under the names it runs them by) and nothing else, until the
 * caller defines what its transactions also run. ioredis copies every script of a connection onto
 * each MULTI made from it, and the queue's carries all of BullMQ's and the relay's: some 150 µs of
 * CPU for each transaction, against a few here. Resolves once connected (or refused). Its MULTI gives BullMQ
 * the `runCommand` it runs its scripts through (BullMQ's own wrapper of an ioredis connection).
 */
export async function storeConnection(queue: Queue): Promise<RedisClient> {
  const shared = await queueClient(queue);
  // A cluster's duplicate takes other arguments than a single server's; with none, both copy theirs.
  const raw = (shared as Redis).duplicate() as RedisClient;
  const scripts: ScriptSet = shared.scriptsSet;
  for (const [command, script] of Object.entries(scripts)) {
    if (ADD_JOB_SCRIPT.test(command))
      raw.defineCommand(command, { lua: script.lua, ...(script.numberOfKeys === null ? {} : { numberOfKeys: script.numberOfKeys }) });
  }
  // Its errors are the transactions' to report; it ends with the queue's connection, whose owner closes it.
  raw.on('error', () => {});
  shared.once('end', () => raw.disconnect());
  // Connected, or refused (a transaction then fails at once, as on the queue's own connection while Redis is away).
  await whenConnected(raw);
  return createIORedisClient(raw);
}

/** One job to add: its id is the caller's, not BullMQ's counter. */
export interface JobToAdd<T> {
  name: string;
  data: T;
  id: string;
  opts: JobsOptions;
}

/**
 * Queues BullMQ's own add-job script (the one `queue.add` runs: store, deduplicate, put in wait or
 * delayed, wake a worker) on `transaction`, a MULTI of {@link storeConnection}'s connection, so the
 * job is stored with whatever else the transaction writes. Resolves to the job's id once the
 * transaction has run. Not public API (`Job#addJob` with a transaction for its client).
 */
export function addJobIn<T>(transaction: ChainableCommander, queue: Queue<T>, job: JobToAdd<T>): Promise<string> {
  return new Job(queue, job.name, job.data, job.opts, job.id).addJob(transaction as unknown as Parameters<Job['addJob']>[0]);
}
