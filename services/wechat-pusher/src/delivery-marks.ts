import { type ImClient, ImError, type RelayMarkState, withRelayMark } from '@wxim/im';
import type { ReplyJob } from '@wxim/queue';
import { type Lease, LockLostError, type RateScope } from '@wxim/state';
import type { Redis, Cluster } from 'ioredis';
import type { Counter } from 'prom-client';

export interface DeliveryMarksDeps {
  redis: Redis | Cluster;
  im: ImClient;
  /** The key of a job's progress hash: the state last marked is kept there. */
  progressKey: (jobId: string) => string;
  /** A call's turn under its platform's pace, confirming the job's lock. */
  turn: (scope: RateScope, lease?: Lease) => Promise<number>;
  /** By state and outcome: marked, failed, left_alone (the client's data is not a JSON object), lock_lost, repeated. */
  marks: Counter<'state' | 'outcome'>;
  log: { warn(o: object, m: string): void; debug(o: object, m: string): void };
}

/** A reply's progress outlives a failed job's retention (a week), then goes: as the pusher's other progress. */
const PROGRESS_TTL_MS = 8 * 24 * 3600 * 1000;

/**
 * Marks an agent's reply in IM itself (DELIVERY_MARKS): a `relayMark` merged into the message's
 * CloudCustomData (openim/modify_c2c_msg; the body is never touched), so any client can show where
 * it stands. A mark is a courtesy beside the delivery: it takes its own turn under IM's pace for
 * its command, only while the job is still this worker's, and never throws — a mark that fails is
 * logged and counted, and not tried again. The state marked is kept in the job's progress, so a
 * job run again does not mark the same state twice.
 */
export class DeliveryMarks {
  constructor(private readonly deps: DeliveryMarksDeps) {}

  /**
   * Marks the reply `state` (with `reason` for not_delivered). `cloudCustomData` is the message's
   * as IM holds it (the history's once confirmed): every key of it is kept.
   */
  async mark(
    job: { id: string; data: ReplyJob },
    state: RelayMarkState,
    cloudCustomData: string | undefined,
    lease: Lease | undefined,
    reason?: string,
  ): Promise<void> {
    const { redis, im, marks, log } = this.deps;
    const { agent, userId, msgKey } = job.data;
    const progress = this.deps.progressKey(job.id);
    try {
      if ((await redis.hget(progress, 'mark')) === state) {
        marks.inc({ state, outcome: 'repeated' });
        return;
      }
      const data = withRelayMark(cloudCustomData, { state, at: Date.now(), ...(reason === undefined ? {} : { reason }) });
      if (data === undefined) {
        // The agent's client keeps a string of its own there: overwriting it would break the client.
        marks.inc({ state, outcome: 'left_alone' });
        log.debug({ jobId: job.id, agent, state }, "reply not marked: its client's CloudCustomData is not a JSON object");
        return;
      }
      const called = await im.modifyC2CCustomData(
        { from: agent, to: userId, msgKey, cloudCustomData: data },
        { beforeSend: async (command) => (await this.deps.turn({ platform: 'im', command }, lease)) >= 0 },
      );
      if (!called) return;
      await redis.multi().hset(progress, 'mark', state).pexpire(progress, PROGRESS_TTL_MS).exec();
      marks.inc({ state, outcome: 'marked' });
    } catch (err) {
      if (err instanceof LockLostError) {
        // Another worker has the job now: its marks are its own.
        marks.inc({ state, outcome: 'lock_lost' });
        return;
      }
      marks.inc({ state, outcome: 'failed' });
      // IM's errors never carry the URL (its UserSig); neither does this line.
      const code = err instanceof ImError ? err.code : undefined;
      log.warn({ jobId: job.id, agent, state, code, reason: (err as Error).message }, 'the reply could not be marked in IM; its delivery is unaffected');
    }
  }
}
