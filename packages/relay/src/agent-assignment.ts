import type { Cluster, Redis } from 'ioredis';
import type { StateKeys } from './keys.js';

// Sticky: a customer keeps an agent who is still configured. Otherwise the least-loaded agent
// (fewest customers; ties go to the earlier one in IM_AGENTS) takes them, atomically.
export const ASSIGN_AGENT_LUA = `
local function assignAgent(customer, load, agents)
  local current = redis.call('HGET', customer, 'agent')
  if current then
    for _, a in ipairs(agents) do if a == current then return current end end
  end
  local best, bestLoad
  for _, a in ipairs(agents) do
    local n = tonumber(redis.call('ZSCORE', load, a) or '0')
    if best == nil or n < bestLoad then best, bestLoad = a, n end
  end
  if current then redis.call('ZINCRBY', load, -1, current) end
  redis.call('ZINCRBY', load, 1, best)
  redis.call('HSET', customer, 'agent', best)
  return best
end
`;

// KEYS: customer hash, agent-load zset. ARGV: the configured agents.
const ASSIGN = `${ASSIGN_AGENT_LUA}
return assignAgent(KEYS[1], KEYS[2], ARGV)
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
