// Which agent serves which customer, as a Lua function for RelayTurn's script.
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
