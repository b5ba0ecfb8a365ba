import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import type { StateKeys } from './keys.js';

/** A line lives this long after its last append: bounded memory for customers who went quiet. */
const LINE_TTL_S = 7 * 24 * 3600;

// KEYS: line zset, global sequence. ARGV: job id, ttl. Appends once; the score is a Redis-side
// sequence, so the line keeps the order in which pushes were stored, whichever process stored them.
const APPEND = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], seq, ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
`;

// Drops entries whose job no longer waits (removed from the dashboard, finished, or a repeat
// appended after its job completed) and returns the first job still to run.
export const LIVE_HEAD_LUA = `
local function liveHead(line, jobPrefix)
  for _ = 1, 100 do
    local head = redis.call('ZRANGE', line, 0, 0)[1]
    if not head then return false end
    local job = jobPrefix .. head
    if redis.call('EXISTS', job) == 1 and redis.call('HEXISTS', job, 'finishedOn') == 0 then return head end
    redis.call('ZREM', line, head)
  end
  return false
end
`;

// KEYS: line zset. ARGV: job key prefix, job id. The job's place: at the head, waiting, or absent.
const TURN = `${LIVE_HEAD_LUA}
local head = liveHead(KEYS[1], ARGV[1])
if head == ARGV[2] then return 'head' end
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 'waiting' end
return 'absent'
`;

// KEYS: line zset, the job's relay ids. ARGV: job key prefix, job id, keep the ids (1/0).
// Removes the job and returns the next to run. A failed job keeps its ids: retried by hand, it
// is relayed with them again (see RelayTurn).
const FINISH = `${LIVE_HEAD_LUA}
redis.call('ZREM', KEYS[1], ARGV[2])
if ARGV[3] ~= '1' then redis.call('DEL', KEYS[2]) end
return liveHead(KEYS[1], ARGV[1])
`;

export type Turn = 'head' | 'waiting' | 'absent';

type LineCommands = {
  wximLineAppend(line: string, seq: string, jobId: string, ttl: number): Promise<number>;
  wximLineTurn(line: string, jobPrefix: string, jobId: string): Promise<Turn>;
  wximLineFinish(line: string, relayIds: string, jobPrefix: string, jobId: string, keepIds: '1' | '0'): Promise<string | null>;
};

/**
 * Per-customer order. BullMQ has no groups in its open-source edition, so each customer has a
 * line: a sorted set of the ids of their pending jobs, in the order the gateway stored them. Only
 * the job at the head of its line may relay; the others wait (delayed, not failing) until the
 * head finishes and wakes the next. A head that is retrying keeps its place, so nothing behind
 * it overtakes it; a head that fails for good leaves the line so the others go on.
 */
export class ConversationLine {
  private readonly redis: LineCommands;

  constructor(
    raw: Redis | Cluster,
    private readonly keys: StateKeys,
    /** The key prefix of the jobs in line, e.g. `wxim:wechat-inbound:`. */
    private readonly jobKeyPrefix: string,
  ) {
    if (!('wximLineAppend' in raw)) {
      raw.defineCommand('wximLineAppend', { numberOfKeys: 2, lua: APPEND });
      raw.defineCommand('wximLineTurn', { numberOfKeys: 1, lua: TURN });
      raw.defineCommand('wximLineFinish', { numberOfKeys: 2, lua: FINISH });
    }
    this.redis = raw as unknown as LineCommands;
  }

  /** Idempotent. Resolves true when the job was added, false when it was already in line. */
  async append(openid: string, jobId: string): Promise<boolean> {
    return (await this.redis.wximLineAppend(this.keys.line(openid), this.keys.lineSeq, jobId, LINE_TTL_S)) === 1;
  }

  /**
   * Queues appends on a transaction or pipeline of the same client (the caller executes it), so
   * that storing a job and putting it in line can be one atomic round trip.
   */
  appendIn(transaction: ChainableCommander, entries: readonly { openid: string; jobId: string }[]): void {
    const t = transaction as unknown as LineCommands;
    for (const { openid, jobId } of entries) void t.wximLineAppend(this.keys.line(openid), this.keys.lineSeq, jobId, LINE_TTL_S);
  }

  /** Whether the job may relay now (`head`), waits behind others, or is not in line yet. */
  async turn(openid: string, jobId: string): Promise<Turn> {
    return this.redis.wximLineTurn(this.keys.line(openid), this.jobKeyPrefix, jobId);
  }

  /**
   * Removes a job from its line; resolves to the job now at the head, if any. `failed`: the job
   * failed for good and keeps its relay ids for a retry by hand.
   */
  async finish(openid: string, jobId: string, failed = false): Promise<string | undefined> {
    return (await this.redis.wximLineFinish(this.keys.line(openid), this.keys.relayIds(jobId), this.jobKeyPrefix, jobId, failed ? '1' : '0')) ?? undefined;
  }
}
