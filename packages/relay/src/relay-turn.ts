import type { Cluster, Redis } from 'ioredis';
import { ASSIGN_AGENT_LUA } from './agent-assignment.js';
import { LIVE_HEAD_LUA } from './conversation-line.js';
import type { Customer } from './identity-map.js';
import { userIdFor } from './identity-map.js';
import type { StateKeys } from './keys.js';

// KEYS: line, customer hash, agent-load, first-attempt. ARGV: job key prefix, job id, now (ms),
// assign (1/0), agents... One round trip for what every relay needs first: its turn, and at the
// head, the customer's UserID, import state and (sticky) agent, when it first tried, and its place.
const BEGIN = `${LIVE_HEAD_LUA}
${ASSIGN_AGENT_LUA}
local head = liveHead(KEYS[1], ARGV[1])
if head ~= ARGV[2] then
  if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return {'waiting'} end
  return {'absent'}
end
local c = redis.call('HMGET', KEYS[2], 'userId', 'imported', 'agent')
local agent = c[3] or false
if ARGV[4] == '1' then agent = assignAgent(KEYS[2], KEYS[3], {unpack(ARGV, 5)}) end
redis.call('SET', KEYS[4], ARGV[3], 'NX', 'EX', 7 * 86400)
return {'head', c[1] or false, c[2] or false, agent, redis.call('GET', KEYS[4]), redis.call('ZSCORE', KEYS[1], head)}
`;

export type Begun =
  | { turn: 'waiting' | 'absent' }
  | {
      turn: 'head';
      customer: Customer;
      firstAttemptAt: number;
      /** The job's place in the store order of every line (a Redis-side sequence, see ConversationLine). */
      place: number;
    };

type BeginCommand = {
  wximRelayBegin(...args: string[]): Promise<[string, string | null, string | null, string | null, string | null, string | null]>;
};

/** The start of a relay: whether it is the job's turn and, if so, who the customer is and who serves them. */
export class RelayTurn {
  private readonly redis: BeginCommand;

  constructor(
    redis: Redis | Cluster,
    private readonly keys: StateKeys,
    private readonly jobKeyPrefix: string,
    private readonly agents: readonly string[],
  ) {
    if (agents.length === 0) throw new Error('RelayTurn needs at least one agent');
    if (!('wximRelayBegin' in redis)) redis.defineCommand('wximRelayBegin', { numberOfKeys: 4, lua: BEGIN });
    this.redis = redis as unknown as BeginCommand;
  }

  /** `assign`: whether to give the customer an agent if they have none (not for an unfollow). */
  async begin(openid: string, jobId: string, assign: boolean): Promise<Begun> {
    const now = Date.now();
    const [turn, userId, imported, agent, first, place] = await this.redis.wximRelayBegin(
      this.keys.line(openid),
      this.keys.customer(openid),
      this.keys.agentLoad,
      this.keys.firstAttempt(jobId),
      this.jobKeyPrefix,
      jobId,
      String(now),
      assign ? '1' : '0',
      ...this.agents,
    );
    if (turn !== 'head') return { turn: turn as 'waiting' | 'absent' };
    return {
      turn,
      customer: { userId: userId ?? userIdFor(openid, 1), imported: imported === '1', ...(agent ? { agent } : {}) },
      firstAttemptAt: Number(first ?? now),
      place: Number(place),
    };
  }
}
