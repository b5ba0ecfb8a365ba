import { ASSIGN_AGENT_LUA } from './agents.js';
import { LIVE_HEAD_LUA } from './line.js';

/** A job's relay ids outlive a failed job's retention (a week), so a retry by hand still finds them. */
const RELAY_IDS_TTL_S = 8 * 24 * 3600;

// KEYS: line, customer hash, agent-load, relay ids, the earlier release's first-attempt key. ARGV:
// job key prefix, job id, assign (1/0),
// agents... One round trip for what every relay needs first: its turn, and at the head, the
// customer's UserID, import state and (sticky) agent, and the ids the job was first relayed with
// (kept from its first attempt on, also when the job is retried by hand and joins its line again):
// when it first tried, on Redis's clock, and its place in the store order.
export const BEGIN = `${LIVE_HEAD_LUA}
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
