import { DESK_LUA } from './desk.js';

// KEYS: customer hash, agent-load, active, waiting, waiting-seen, the desk's loads mark, the
// account's own load and mark (see ownLoads). ARGV: openid. The customer's
// conversation closes (an unfollow): they stop counting towards their agent's load and leave the
// waiting queue; they keep the agent, who gets them first should they return. Idempotent: a
// retried unfollow releases once.
export const RELEASE = `${DESK_LUA}
local customerPrefix = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1])
local desk = { active = KEYS[3], customerPrefix = customerPrefix }
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1], ARGV[1] .. ':job')
ownLoads(KEYS[2], KEYS[6], KEYS[7], KEYS[8])
return closeConversation(desk, KEYS[2], ARGV[1])
`;

// KEYS: agent-state hash. ARGV: agent, the state (JSON), its event time (ms; '' when IM gave
// none). IM may deliver a login and the logout before it out of order: an older state never
// replaces a newer one, unless it is dated more than 5 minutes ahead of Redis's clock (stored before
// im-callback refused such states: it would outrank every real state after it). Returns 1 when stored.
export const RECORD_STATE = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and ARGV[3] ~= '' then
  local ok, st = pcall(cjson.decode, old)
  local t = redis.call('TIME')
  local aheadOfNow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + 300000
  if ok and type(st) == 'table' and tonumber(st.eventTime) and tonumber(st.eventTime) > tonumber(ARGV[3]) and tonumber(st.eventTime) <= aheadOfNow then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

// The agents' open conversations as the desk keeps them: a conversation counts exactly while it is
// in its account's active set and counted. KEYS[first .. first + accounts - 1]: each account's
// active set; ARGV[firstPrefix ..]: each account's customer key prefix. Returns the counts by
// agent and their total.
const COUNT_OPEN_LUA = `
local function countOpen(first, accounts, firstPrefix)
  local counts, total = {}, 0
  for i = 0, accounts - 1 do
    local customerPrefix = ARGV[firstPrefix + i]
    local from = 0
    while true do
      local openids = redis.call('ZRANGE', KEYS[first + i], from, from + 999)
      for _, openid in ipairs(openids) do
        local c = redis.call('HMGET', customerPrefix .. openid, 'agent', 'counted')
        if c[1] and c[2] ~= '0' then
          counts[c[1]] = (counts[c[1]] or 0) + 1
          total = total + 1
        end
      end
      if #openids < 1000 then break end
      from = from + 1000
    end
  end
  return counts, total
end
`;

// RECOUNT. KEYS: the agents' load, its mark (see ownLoads), then each account's active set, then
// the other places its agents' conversations may have been counted (dropped). ARGV: the number
// of accounts, then each account's customer key prefix. Counts the agents' open conversations
// afresh from what the desk keeps of them (countOpen), over every account that shares the IM app:
// whatever the counts were (an account added to or removed from the app, a count lost), they are
// true again. Returns how many open conversations it counted.
export const RECOUNT = `${COUNT_OPEN_LUA}
local accounts = tonumber(ARGV[1])
redis.call('DEL', KEYS[1])
for i = 3 + accounts, #KEYS do redis.call('DEL', KEYS[i]) end
local counts, total = countOpen(3, accounts, 2)
for agent, n in pairs(counts) do redis.call('ZADD', KEYS[1], n, agent) end
redis.call('SET', KEYS[2], '1')
return total
`;

// LOAD_DRIFT. KEYS: the agents' load, then each account's active set. ARGV: each account's
// customer key prefix. Reads only: by how many open conversations the agents' counts differ from
// what RECOUNT would count now (the sum over agents of the difference; 0 when they agree).
export const LOAD_DRIFT = `${COUNT_OPEN_LUA}
local counts = countOpen(2, #KEYS - 1, 1)
local off = 0
local kept = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #kept, 2 do
  off = off + math.abs(tonumber(kept[i + 1]) - (counts[kept[i]] or 0))
  counts[kept[i]] = nil
end
for _, n in pairs(counts) do off = off + n end
return off
`;
