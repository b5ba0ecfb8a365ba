import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { QUEUES } from '@wxim/queue';
import type { StateKeys } from './keys.js';
import { LockLostError } from './lock-lost-error.js';
import type { Lease } from './rate-gate.js';
import { LINE_TTL_S, type RelayScripts, type WakeKeys, relayScripts, relayScriptsOnly, scriptsIn } from '@wxim/redis-scripts';

export type Turn = 'head' | 'waiting' | 'absent';

/**
 * Per-customer order. BullMQ has no groups in its open-source edition, so each customer has a
 * line: a sorted set of the ids of their pending jobs, in the order the gateway stored them. Only
 * the job at the head of its line may relay; the others wait (delayed, not failing) until the
 * head finishes and wakes the next. A head that is retrying keeps its place, so nothing behind
 * it overtakes it; a head that fails for good leaves the line so the others go on.
 */
export class ConversationLine {
  private readonly redis: RelayScripts;
  private readonly jobKeyPrefix: string;
  /** The queue's own keys, which a finish needs to wake the next job (see queueLayout). */
  private readonly queueKeys: ReturnType<StateKeys['queue']>;
  /** Whether a job may keep places in these lines (placeAhead): the agents' replies only; the customers' pushes are appended without looking. */
  private readonly keepsPlaces: boolean;

  constructor(
    redis: Redis | Cluster,
    private readonly keys: StateKeys,
    /** The queue whose jobs stand in these lines: each queue (direction) has lines of its own. */
    private readonly queue: string,
    /** The key of what a job keeps between attempts, removed when it is done (kept when it failed). */
    private readonly jobState: (jobId: string) => string,
  ) {
    this.redis = relayScripts(redis);
    this.jobKeyPrefix = keys.jobs(queue);
    this.queueKeys = keys.queue(queue);
    this.keepsPlaces = queue === QUEUES.agentReplies;
  }

  /** Idempotent. Resolves true when the job was added, false when it was already in line. */
  async append(openid: string, jobId: string): Promise<boolean> {
    return (await this.redis.wximLineAppend(...this.appendKeys(openid), jobId, LINE_TTL_S, this.jobKeyPrefix)) === 1;
  }

  /** Defines what {@link appendIn} runs on `client`, a store's connection of its own (see DurableEnqueuer). */
  defineOn(client: Redis | Cluster): void {
    relayScriptsOnly(client, ['wximLineAppend']);
  }

  /**
   * Queues appends on a transaction or pipeline of a client with the script defined (this line's
   * own, or one given to {@link defineOn}; the caller executes it), so
   * that storing a job and putting it in line can be one atomic round trip.
   */
  appendIn(transaction: ChainableCommander, entries: readonly { openid: string; jobId: string }[]): void {
    const t = scriptsIn(transaction);
    for (const { openid, jobId } of entries) void t.wximLineAppend(...this.appendKeys(openid), jobId, LINE_TTL_S, this.jobKeyPrefix);
  }

  /** Whether the job may relay now (`head`), waits behind others, or is not in line yet. */
  async turn(openid: string, jobId: string): Promise<Turn> {
    return this.redis.wximLineTurn(this.keys.line(this.queue, openid), this.jobKeyPrefix, jobId);
  }

  /**
   * Removes a job from its line and, in the same round trip, wakes the job now at the head if it
   * stepped aside; resolves to that job, if any. `failed`: the job failed for good and keeps its
   * relay ids for a retry by hand.
   */
  async finish(openid: string, jobId: string, failed = false): Promise<string | undefined> {
    return (
      (await this.redis.wximLineFinish(
        this.keys.line(this.queue, openid),
        this.jobState(jobId),
        ...this.wakeKeys(),
        this.jobKeyPrefix,
        jobId,
        failed ? '1' : '0',
      )) ?? undefined
    );
  }

  /**
   * Puts `first` (job ids, in their order) ahead of `head`, the job at the head of the line, which
   * has not begun: one in line behind it moves there (woken if it stepped aside); one not stored
   * yet has its place kept there for `keepMs` while `head` stays the head, which it takes when
   * stored — or, `keep` false (the head waits no longer), has its place given up. Resolves to
   * undefined when `head` is not the head; else to the ids now in line ahead (`moved`) and those
   * not stored yet (`kept`). When the head may go (nothing moved; nothing kept, or places given
   * up), its list is dropped from its progress hash. Throws LockLostError, changing nothing, when
   * `lease` (the head job's: none when run by hand) is no longer its worker's.
   */
  async placeAhead(
    openid: string,
    head: string,
    first: readonly string[],
    keepMs: number,
    keep: boolean,
    lease?: Lease,
  ): Promise<{ moved: string[]; kept: string[] } | undefined> {
    if (!this.keepsPlaces) throw new Error(`the lines of ${this.queue} keep no places ahead`);
    const line = this.keys.line(this.queue, openid);
    const placed = await this.redis.wximLinePlaceAhead(
      line,
      this.keys.lineAhead(this.queue, openid),
      this.jobState(head),
      ...this.wakeKeys(),
      lease?.lockKey ?? line,
      this.jobKeyPrefix,
      head,
      keepMs,
      keep ? '1' : '0',
      lease?.token ?? '',
      ...first,
    );
    if (placed === -1) throw new LockLostError(`job ${head} is no longer this worker's: nothing is put ahead of it`);
    return placed === null ? undefined : { moved: placed[0], kept: placed[1] };
  }

  private wakeKeys(): WakeKeys {
    const q = this.queueKeys;
    return [q.delayed, q.wait, q.meta, q.active, q.marker, q.events];
  }

  private appendKeys(openid: string): [string, string, string, string] {
    const line = this.keys.line(this.queue, openid);
    return [line, this.keys.lineSeq, this.keys.legacyLine(this.queue, openid) ?? line, this.keepsPlaces ? this.keys.lineAhead(this.queue, openid) : line];
  }
}
