import type { Cluster, Redis } from 'ioredis';
import type { StateKeys } from './keys.js';

// KEYS: customer hash, agent-load zset. ARGV: the configured agents.
// Sticky: a customer keeps an agent who is still configured. Otherwise the least-loaded agent
// (fewest customers; ties go to the earlier one in IM_AGENTS) takes them, atomically.
const ASSIGN = `
local current = redis.call('HGET', KEYS[1], 'agent')
if current then
  for _, a in ipairs(ARGV) do if a == current then return current end end
end
local best, bestLoad
for _, a in ipairs(ARGV) do
  local load = tonumber(redis.call('ZSCORE', KEYS[2], a) or '0')
  if best == nil or load < bestLoad then best, bestLoad = a, load end
end
if current then redis.call('ZINCRBY', KEYS[2], -1, current) end
redis.call('ZINCRBY', KEYS[2], 1, best)
redis.call('HSET', KEYS[1], 'agent', best)
return best
`;

type WithAssign = { wximAssignAgent(customerKey: string, loadKey: string, ...agents: string[]): Promise<string> };

/** Which agent serves which customer: sticky, new customers to the agent with the fewest. */
export class AgentAssignment {
  private readonly redis: WithAssign;

  constructor(
    redis: Redis | Cluster,
    private readonly keys: StateKeys,
    private readonly agents: readonly string[],
  ) {
    if (agents.length === 0) throw new Error('AgentAssignment needs at least one agent');
    if (!('wximAssignAgent' in redis)) redis.defineCommand('wximAssignAgent', { numberOfKeys: 2, lua: ASSIGN });
    this.redis = redis as unknown as WithAssign;
  }

  async agentFor(openid: string): Promise<string> {
    return this.redis.wximAssignAgent(this.keys.customer(openid), this.keys.agentLoad, ...this.agents);
  }
}
