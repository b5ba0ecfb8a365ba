import type { Cluster, Redis } from 'ioredis';
import { ASSIGN_AGENT_LUA } from './agent-assignment.js';
import { LIVE_HEAD_LUA } from './conversation-line.js';
import type { Customer } from './identity-map.js';
import type { StateKeys } from './keys.js';

/** A job's relay ids outlive a failed job's retention (a week), so a retry by hand still finds them. */
const RELAY_IDS_TTL_S = 8 * 24 * 3600;

// KEYS: line, customer hash, agent-load, relay ids, the earlier release's first-attempt key. ARGV:
// job key prefix, job id, assign (1/0),
// agents... One round trip for what every relay needs first: its turn, and at the head, the
// customer's UserID, import state and (sticky) agent, and the ids the job was first relayed with
// (kept from its first attempt on, also when the job is retried by hand and joins its line again):
// when it first tried, on Redis's clock, and its place in the store order.
const BEGIN = `${LIVE_HEAD_LUA}
${ASSIGN_AGENT_LUA}
local head = liveHead(KEYS[1], ARGV[1])
if head ~= ARGV[2] then
  if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return {'waiting'} end
  return {'absent'}
end
local c = redis.call('HMGET', KEYS[2], 'userId', 'imported', 'agent')
local agent = c[3] or false
if ARGV[3] == '1' then agent = assignAgent(KEYS[2], KEYS[3], {unpack(ARGV, 4)}) end
if redis.call('HEXISTS', KEYS[4], 'first') == 0 then
  -- A job begun by the release before this one kept its first attempt (local clock, ms) in a key
  -- of its own: carried over once, so a job retrying across the upgrade still looks first.
  local t = redis.call('TIME')
  local earlier = redis.call('GET', KEYS[5])
  redis.call('HSET', KEYS[4], 'first', earlier or (t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))))
  if earlier then redis.call('DEL', KEYS[5]) end
end
redis.call('HSETNX', KEYS[4], 'place', redis.call('ZSCORE', KEYS[1], head))
redis.call('EXPIRE', KEYS[4], ${RELAY_IDS_TTL_S})
local ids = redis.call('HMGET', KEYS[4], 'first', 'place')
return {'head', c[1] or false, c[2] or false, agent, ids[1], ids[2]}
`;

export type Begun =
  | { turn: 'waiting' | 'absent' }
  | {
      turn: 'head';
      customer: Customer;
      /** When the job first tried to relay, ms on Redis's clock. */
      firstAttemptAt: number;
      /** The job's place in the store order of every line when it first tried (a Redis-side sequence, see ConversationLine). */
      place: number;
    };

type BeginCommand = {
  wximRelayBegin(...args: string[]): Promise<[string, string | null, string | null, string | null, string, string]>;
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
    if (!('wximRelayBegin' in redis)) redis.defineCommand('wximRelayBegin', { numberOfKeys: 5, lua: BEGIN });
    this.redis = redis as unknown as BeginCommand;
  }

  /** `assign`: whether to give the customer an agent if they have none (not for an unfollow). */
  async begin(openid: string, jobId: string, assign: boolean): Promise<Begun> {
    const [turn, userId, imported, agent, first, place] = await this.redis.wximRelayBegin(
      this.keys.line(openid),
      this.keys.customer(openid),
      this.keys.agentLoad,
      this.keys.relayIds(jobId),
      this.keys.earlierFirstAttempt(jobId),
      this.jobKeyPrefix,
      jobId,
      assign ? '1' : '0',
      ...this.agents,
    );
    if (turn !== 'head') return { turn: turn as 'waiting' | 'absent' };
    return {
      turn,
      customer: { ...(userId ? { userId } : {}), imported: imported === '1', ...(agent ? { agent } : {}) },
      firstAttemptAt: Number(first),
      place: Number(place),
    };
  }
}
