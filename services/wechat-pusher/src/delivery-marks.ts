import { type ImClient, ImError, type RelayMarkState, withRelayMark } from '@wxim/im';
import type { ReplyJob } from '@wxim/queue';
import { relayScripts } from '@wxim/redis-scripts';
import { type Lease, LockLostError, type RateScope } from '@wxim/state';
import type { Redis, Cluster } from 'ioredis';
import type { Counter } from 'prom-client';
import type { MarkWriter } from './mark-writer.js';
import { PROGRESS_TTL_MS } from './reply-delivery.js';

export interface DeliveryMarksDeps {
  redis: Redis | Cluster;
  im: ImClient;
  /** The key of a job's progress hash: the state last marked, and the final state decided, are kept there. */
  progressKey: (jobId: string) => string;
  /** A call's turn under its platform's pace, confirming the job's lock when there is a lease. */
  turn: (scope: RateScope, lease?: Lease) => Promise<number>;
  /** Where final marks wait for their turn, out of the replies' way. */
  writer: MarkWriter;
  /**
   * By state and outcome: marked; failed; left_alone (the client's CloudCustomData is not a JSON
   * object, or unknown: a job stored by a release that did not keep it); lock_lost; repeated (a job
   * run again, already marked so); superseded (a queued mark after a final one was decided, or a
   * final one replaced by a later one before it was written); dropped (the writer was full, or
   * the process stopped first).
   */
  marks: Counter<'state' | 'outcome'>;
  log: { warn(o: object, m: string): void; debug(o: object, m: string): void };
}

type FinalState = Exclude<RelayMarkState, 'queued'>;
type MarkedJob = { id: string; data: ReplyJob };

/**
 * Marks an agent's reply in IM itself (DELIVERY_MARKS): a `relayMark` merged into the message's
 * CloudCustomData (openim/modify_c2c_msg; the body is never touched), so any client can show where
 * it stands. A mark is a hint beside the delivery and never throws: a mark that fails is logged and
 * counted, and not tried again.
 *
 * The final mark (delivered, not delivered) leaves the reply's job: it waits in the MarkWriter for
 * its turn under IM's pace, so a customer's next reply never waits for it; it needs no lease, as
 * writing the same final state twice changes nothing. The rare `queued` mark (a reply waiting for a
 * retry) is written inside the job, under its lock, and never after a final state was decided for
 * the reply: a late `queued` cannot overwrite a final mark.
 */
export class DeliveryMarks {
  constructor(private readonly deps: DeliveryMarksDeps) {}

  /**
   * In the job, while it holds its lock: marks the reply queued, unless a final state was decided
   * for it or it is marked queued already. `cloudCustomData` as for `final`.
   */
  async queued(job: MarkedJob, cloudCustomData: string | undefined, lease: Lease | undefined): Promise<void> {
    const { redis, marks } = this.deps;
    const state = 'queued';
    try {
      const [mark, final] = await redis.hmget(this.deps.progressKey(job.id), 'mark', 'final');
      if (final !== null) {
        marks.inc({ state, outcome: 'superseded' });
        return;
      }
      if (mark === state) {
        marks.inc({ state, outcome: 'repeated' });
        return;
      }
      const data = this.merged(job, state, cloudCustomData);
      if (data === undefined) return;
      await this.write(job, state, data, lease, 'always');
    } catch (err) {
      this.failed(job, state, err);
    }
  }

  /**
   * Decides the reply's final mark and hands it to the writer; resolves once it is handed over
   * (one Redis round trip, no IM call). `cloudCustomData` is the message's as IM holds it (the
   * history's once confirmed; '' when it has none): every key of it is kept. Undefined means it is
   * not known, and the message is not marked: a mark of its own would erase the client's data.
   */
  async final(job: MarkedJob, state: FinalState, cloudCustomData: string | undefined, reason?: string): Promise<void> {
    const { redis, marks, writer } = this.deps;
    const progress = this.deps.progressKey(job.id);
    try {
      // Recorded before any queued mark could be written again: see `queued`.
      const [[, marked]] = (await redis.multi().hget(progress, 'mark').hset(progress, 'final', state).pexpire(progress, PROGRESS_TTL_MS).exec()) as [
        [Error | null, string | null],
      ];
      if (marked === state) {
        marks.inc({ state, outcome: 'repeated' });
        return;
      }
      const data = this.merged(job, state, cloudCustomData, reason);
      if (data === undefined) return;
      writer.add(job.id, {
        write: async () => {
          try {
            await this.write(job, state, data, undefined, 'if_kept');
          } catch (err) {
            this.failed(job, state, err);
          }
        },
        dropped: (why) => {
          marks.inc({ state, outcome: why === 'superseded' ? 'superseded' : 'dropped' });
          if (why !== 'superseded') this.deps.log.debug({ jobId: job.id, state, why }, 'reply not marked: the mark was dropped; its delivery is unaffected');
        },
      });
    } catch (err) {
      this.failed(job, state, err);
    }
  }

  /** The data to write, with the time the state was known; undefined (counted) when the message is left alone. */
  private merged(job: MarkedJob, state: RelayMarkState, cloudCustomData: string | undefined, reason?: string): string | undefined {
    const data =
      cloudCustomData === undefined ? undefined : withRelayMark(cloudCustomData, { state, at: Date.now(), ...(reason === undefined ? {} : { reason }) });
    if (data === undefined) {
      // Not known, or the agent's client keeps a string of its own there: writing ours would erase it.
      this.deps.marks.inc({ state, outcome: 'left_alone' });
      this.deps.log.debug(
        { jobId: job.id, agent: job.data.agent, state, known: cloudCustomData !== undefined },
        "reply not marked: its client's CloudCustomData is unknown or not a JSON object",
      );
    }
    return data;
  }

  /**
   * Writes the mark in IM, then records it in the reply's progress: `always` inside the job (a
   * repeat of its attempt skips it), `if_kept` after it, only while the job keeps its progress (a
   * failed job, retried by hand, skips it then): a completed job's end removed its progress, and a
   * final mark whose IM call came back after that must not bring it back for eight days.
   */
  private async write(job: MarkedJob, state: RelayMarkState, data: string, lease: Lease | undefined, record: 'always' | 'if_kept'): Promise<void> {
    const { redis, im, marks } = this.deps;
    const { agent, userId, msgKey } = job.data;
    const called = await im.modifyC2CCustomData(
      { from: agent, to: userId, msgKey, cloudCustomData: data },
      { beforeSend: async (command) => (await this.deps.turn({ platform: 'im', command }, lease)) >= 0 },
    );
    if (!called) return;
    const progress = this.deps.progressKey(job.id);
    if (record === 'always') await redis.multi().hset(progress, 'mark', state).pexpire(progress, PROGRESS_TTL_MS).exec();
    else await relayScripts(redis).wximHsetIfKept(progress, 'mark', state, PROGRESS_TTL_MS);
    marks.inc({ state, outcome: 'marked' });
  }

  private failed(job: MarkedJob, state: RelayMarkState, err: unknown): void {
    if (err instanceof LockLostError) {
      // Another worker has the job now: its marks are its own.
      this.deps.marks.inc({ state, outcome: 'lock_lost' });
      return;
    }
    this.deps.marks.inc({ state, outcome: 'failed' });
    // IM's errors never carry the URL (its UserSig); neither does this line.
    const code = err instanceof ImError ? err.code : undefined;
    this.deps.log.warn(
      { jobId: job.id, agent: job.data.agent, state, code, reason: (err as Error).message },
      'the reply could not be marked in IM; its delivery is unaffected',
    );
  }
}
