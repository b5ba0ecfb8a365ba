import { DESK_LUA } from './desk.js';

/** A first answer overdue's move is remembered this long (its notices are sent within moments). */
export const MOVE_TTL_S = 7 * 24 * 3600;

/**
 * A conversation moved for a first answer overdue keeps its agent's replies IM dates up to this
 * long after the move (IM's 2 s callback budget: a reply sent as the move came is on its way).
 */
export const HAND_ON_KEEPS_MS = 2000;

// markUnanswered: the unanswered set, the openid. A customer's message reached their agent: unless
// one was already waiting for an answer, the agent's time to answer counts from now (Redis's clock,
// as every check's). Run by RELAYED (see relayed.ts).
export const MARK_LUA = `
local function markUnanswered(unanswered, openid)
  local t = redis.call('TIME')
  return redis.call('ZADD', unanswered, 'NX', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), openid)
end
`;

// KEYS: customer hash, unanswered. ARGV: openid, the agent whose reply was delivered, when they sent
// it (ms, IM's MsgTime). A reply from the agent serving an open conversation answers the customer;
// the conversation's first answer returns its first-response time (ms), once; else -1. A reply sent
// before the customer's latest message (its CreateTime, 'messageAt', kept by RELAYED: e.g. the reply
// held for its undo time or its confirmation while the customer wrote again; a follow or a menu click
// asks for no answer) does not answer that one: the wait goes on, counted from now.
export const ANSWERED = `${DESK_LUA}
local c = redis.call('HMGET', KEYS[1], 'agent', 'counted', 'openedAt', 'messageAt')
if c[1] ~= ARGV[2] or c[2] == '0' then return -1 end
local now = nowMs()
local latest = tonumber(c[4])
if latest and tonumber(ARGV[3]) < latest then
  redis.call('ZADD', KEYS[2], 'XX', now, ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
if not c[3] or redis.call('HSETNX', KEYS[1], 'answeredAt', now) == 0 then return -1 end
return now - tonumber(c[3])
`;

// KEYS: customer hash, agent-load, agent state, active, last-assigned, unanswered, moves owed
// their notices, the move's record, the desk's loads mark, the account's own load and mark (see
// ownLoads), the customer's line of replies. ARGV: openid, since (ms, the customer's score in
// unanswered when read), the move's id, SLA (ms), max open, the reply jobs' key prefix, agents...
// Moves a conversation whose customer has waited past the SLA for an answer from its agent to the
// least busy other agent online with room, unless a reply of that agent is on its way (waiting for
// its undo time, a retry, or the replies before it): it answers the customer once delivered.
// Done once per move id (openid and since): a repeated call reads what it did. A moved conversation
// is owed its notices until the caller has sent them (a crash in between leaves it owed).
// The conversation never goes back to an agent who handed it on before (in this conversation).
// Returns {'moved', to, from, 'new' | 'again'} | {'none'} (nobody else free: tried again later)
// | {'exhausted'} (every other agent handed it on before: this message is owed no more moves)
// | {'later'} (not overdue: answered, or the agent took it later; or an answer is on its way:
// looked at again at the next check) | {'closed'}.
export const SLA_MOVE = `${DESK_LUA}
local done = redis.call('HMGET', KEYS[8], 'to', 'from')
if done[1] then return {'moved', done[1], done[2], 'again'} end
local since = tonumber(redis.call('ZSCORE', KEYS[6], ARGV[1]) or '-1')
if since ~= tonumber(ARGV[2]) then return {'later'} end
local agents = {unpack(ARGV, 7)}
local current = redis.call('HGET', KEYS[1], 'agent')
-- An agent no longer of IM_AGENTS (a redeploy) is moved from like any other: nobody watches there.
if not current or redis.call('HGET', KEYS[1], 'counted') == '0' then
  redis.call('ZREM', KEYS[6], ARGV[1])
  return {'closed'}
end
-- An agent given the conversation after the message (a /transfer) has their own time to answer.
local assigned = tonumber(redis.call('HGET', KEYS[1], 'assignedAt') or '0')
if assigned > since then
  redis.call('ZADD', KEYS[6], assigned, ARGV[1])
  return {'later'}
end
local now = nowMs()
if since > now - tonumber(ARGV[4]) then return {'later'} end
for _, id in ipairs(redis.call('ZRANGE', KEYS[12], 0, 49)) do
  local job = ARGV[6] .. id
  if redis.call('HEXISTS', job, 'finishedOn') == 0 then
    local ok, reply = pcall(cjson.decode, redis.call('HGET', job, 'data') or '')
    if ok and type(reply) == 'table' and reply.agent == current then return {'later'} end
  end
end
local desk = { state = KEYS[3], active = KEYS[4], last = KEYS[5] }
ownLoads(KEYS[2], KEYS[9], KEYS[10], KEYS[11])
-- Never back to an agent who handed this conversation on (let its answer lapse, or /transfer'd
-- it): two agents away from their clients would pass the customer to and fro at every check.
-- Unless its agent is no longer of IM_AGENTS (a redeploy) or has logged out (the end of a shift):
-- nobody watches there, so any agent online with room will do, one who had it before too.
local stillThere = configured(agents, current) and isOnline(desk, current)
local handed = ',' .. (stillThere and (redis.call('HGET', KEYS[1], 'handedOn') or '') or '') .. ','
local fresh = {}
for _, a in ipairs(agents) do
  if a ~= current and not string.find(handed, ',' .. a .. ',', 1, true) then fresh[#fresh + 1] = a end
end
-- Every other agent has had it: it stays, and this message is owed no more moves (the customer's
-- next message is owed an answer again). Left where it was, it would hold one of the oldest places
-- of every check's batch, in front of newer overdue customers, until the conversation closed.
if #fresh == 0 then
  redis.call('ZREM', KEYS[6], ARGV[1])
  return {'exhausted'}
end
local to = leastBusyOther(desk, KEYS[2], fresh, current, tonumber(ARGV[5]))
if to == nil then return {'none'} end
-- The agent's replies IM dates before now (and up to IM's 2 s callback budget after, for its
-- clock and the callback on its way) are still theirs: an answer whose callback was late or lost
-- reaches the customer when it comes, or when the sweep finds it.
handOn(desk, KEYS[1], KEYS[2], ARGV[1], current, to, now + ${HAND_ON_KEEPS_MS})
redis.call('ZADD', KEYS[6], now, ARGV[1])
redis.call('HSET', KEYS[8], 'to', to, 'from', current, 'openid', ARGV[1])
redis.call('EXPIRE', KEYS[8], ${MOVE_TTL_S})
redis.call('ZADD', KEYS[7], now, ARGV[3])
return {'moved', to, current, 'new'}
`;
