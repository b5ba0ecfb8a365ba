// Which agent serves which customer, as a Lua function for RelayTurn's script.
// Sticky: a customer keeps an agent who is still configured. Otherwise the least-loaded agent
// (fewest current customers; ties go to the earlier one in IM_AGENTS) takes them, atomically.
// A customer counts towards their agent's load while they follow (`counted` is not '0'): an
// unfollow releases them (see AgentLoad), and a returning follower counts again.
export const ASSIGN_AGENT_LUA = `
local function assignAgent(customer, load, agents)
  local current = redis.call('HGET', customer, 'agent')
  local counted = redis.call('HGET', customer, 'counted') ~= '0'
  if current then
    for _, a in ipairs(agents) do
      if a == current then
        if not counted then
          redis.call('ZINCRBY', load, 1, current)
          redis.call('HSET', customer, 'counted', '1')
        end
        return current
      end
    end
  end
  local best, bestLoad
  for _, a in ipairs(agents) do
    local n = tonumber(redis.call('ZSCORE', load, a) or '0')
    if best == nil or n < bestLoad then best, bestLoad = a, n end
  end
  if current and counted then redis.call('ZINCRBY', load, -1, current) end
  redis.call('ZINCRBY', load, 1, best)
  redis.call('HSET', customer, 'agent', best, 'counted', '1')
  return best
end
`;

// KEYS: customer hash, agent-load. Idempotent: a retried unfollow releases once.
export const RELEASE = `
local agent = redis.call('HGET', KEYS[1], 'agent')
if agent and redis.call('HGET', KEYS[1], 'counted') ~= '0' then
  redis.call('ZINCRBY', KEYS[2], -1, agent)
  redis.call('HSET', KEYS[1], 'counted', '0')
end
return agent
`;
