import { DESK_LUA } from './desk.js';
import { LIVE_HEAD_LUA } from './line.js';
import { PACE_LUA } from './pace.js';
import { RECORD_LUA } from './reply-window.js';

/** A job's relay ids outlive a failed job's retention (a week), so a retry by hand still finds them. */
export const RELAY_IDS_TTL_S = 8 * 24 * 3600;

// KEYS: line, customer hash, agent-load, relay ids, the earlier release's first-attempt key, the
// desk's: agent state, waiting, waiting-seen, active, last-assigned, loads mark (see DESK_LUA), the
// customer's reply window and the recent customers (see recordAction), and the first IM call's
// pace, pace window and the job's lock (see PACE_LUA), the account's own load and mark (see
// ownLoads), then the other accounts' of the IM app waiting, waiting-seen and active keys (see
// otherDesks). ARGV: job key prefix, job id, assign
// ('open': a message opens or continues a conversation; 'attach': an event goes to an agent
// without opening one; 'none': an unfollow), customer key prefix, max open, idle ms, stale ms,
// openid; the customer's action that opens the reply window: its time ('' for none), the replies
// and the time it grants, the window key's margin, how long a customer counts as recent, the
// action's id; the first IM call's pace: interval (µs; '' for none, see below), cap, the lock's
// token and duration, a member unique to the call; then the agents...
//
// One round trip for what every relay needs first: its turn, and at the head, the customer's
// action recorded in their reply window (first thing, before the desk is asked: the customer did
// act, whether or not the message can go yet), the customer's UserID, import state and (sticky)
// agent, and the ids the job was first relayed with (kept from its first attempt on, also when the
// job is retried by hand and joins its line again): when the customer must wait for an agent, the
// agent is false and no ids are taken yet; when it first tried, on Redis's clock, and its place in
// the store order.
//
// Last, for a customer IM knows, the turn of the job's first IM call (its message) under IM's pace
// ('take', as the call itself would ask): the call's wait (0: it may start now, taken; more: its
// slot is reserved that far ahead, and the call asks again with 'start' once it has come, which
// checks the lock and the second's cap right before it leaves) and Redis's time (µs) end the
// answer, or -1 for none. This is the round trip the call would make first, made here instead.
export const BEGIN = `${LIVE_HEAD_LUA}
${DESK_LUA}
${RECORD_LUA}
${PACE_LUA}
local head = liveHead(KEYS[1], ARGV[1])
if head ~= ARGV[2] then
  if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return {'waiting'} end
  return {'absent'}
end
if ARGV[9] ~= '' then recordAction(KEYS[12], KEYS[13], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[8], ARGV[13], ARGV[14]) end
local c = redis.call('HMGET', KEYS[2], 'userId', 'imported', 'agent')
local agent = c[3] or false
-- A job that already began relaying is not given an agent again: a retry goes to the customer's
-- agent, even if the conversation closed meanwhile: where the first attempt may have arrived (IM
-- drops the repeat there), unless the customer was handed on since (then to the new agent, 'to' below),
-- or that agent left IM_AGENTS since (a redeploy while it was retried): then the desk gives another.
local begun = redis.call('HEXISTS', KEYS[4], 'first') == 1 and configured({unpack(ARGV, 20)}, agent)
if ARGV[3] ~= 'none' and not begun then
  local desk = { state = KEYS[6], waiting = KEYS[7], seen = KEYS[8], active = KEYS[9], last = KEYS[10], mark = KEYS[11], own = KEYS[17], ownMark = KEYS[18], others = otherDesks(19),
    job = ARGV[1] .. ARGV[2], customerPrefix = ARGV[4], maxOpen = tonumber(ARGV[5]), idleMs = tonumber(ARGV[6]), staleMs = tonumber(ARGV[7]) }
  if ARGV[3] == 'attach' then
    agent = deskAttach(KEYS[2], KEYS[3], {unpack(ARGV, 20)}, desk, ARGV[8])
  else
    agent = deskAssign(KEYS[2], KEYS[3], {unpack(ARGV, 20)}, desk, ARGV[8])
  end
  if not agent then return {'head', c[1] or false, c[2] or false, false, '0', '0'} end
end
if redis.call('HEXISTS', KEYS[4], 'first') == 0 then
  -- A job begun by the release before this one kept its first attempt (local clock, ms) in a key
  -- of its own: carried over once, so a job retrying across the upgrade still looks first.
  local t = redis.call('TIME')
  local earlier = redis.call('GET', KEYS[5])
  redis.call('HSET', KEYS[4], 'first', earlier or (t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))))
  if earlier then redis.call('DEL', KEYS[5]) end
end
redis.call('HSETNX', KEYS[4], 'place', redis.call('ZSCORE', KEYS[1], head))
-- The agent its first attempt went to: a retry to another (the customer handed on meanwhile) is a
-- new message to IM, which would drop it as a repeat of the first (see imMessageIds).
-- Whether this turn recorded it (1): then no earlier attempt can have sent to anyone.
local recorded = 0
if agent then recorded = redis.call('HSETNX', KEYS[4], 'to', agent) end
redis.call('EXPIRE', KEYS[4], ${RELAY_IDS_TTL_S})
local ids = redis.call('HMGET', KEYS[4], 'first', 'place', 'to')
-- When the conversation's wait for an agent ended, if it waited (read after this turn's assignment, if it made one).
local waitEndedAt = redis.call('HGET', KEYS[2], 'waitEndedAt') or false
if ARGV[15] == '' or c[2] ~= '1' then return {'head', c[1] or false, c[2] or false, agent, ids[1], ids[2], -1, 0, ids[3] or false, recorded, waitEndedAt} end
local turn = paceTurn(KEYS[14], KEYS[15], KEYS[16], ARGV[15], ARGV[16], ARGV[17], ARGV[18], ARGV[19], 'take')
return {'head', c[1] or false, c[2] or false, agent, ids[1], ids[2], turn[1], turn[2], ids[3] or false, recorded, waitEndedAt}
`;

// FORGET_FIRST_AGENT. KEYS: the job's relay ids, the job's lock. ARGV: the lock's token, the agent.
// A job whose turn recorded its first agent, and which found the customer handed on before it sent
// anything (see the im-worker's step aside at the send), forgets that agent while it still holds
// its lock: its next turn records the new one, and the message goes to them as the job's first
// send, not as a retry whose earlier agent may hold it. 1 forgotten, 0 not (the lock or the agent
// is not the one given).
export const FORGET_FIRST_AGENT = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] or redis.call('HGET', KEYS[1], 'to') ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], 'to')
return 1
`;
