// The service desk's assignment, as Lua functions for RelayTurn's script (one round trip).
//
// A conversation is open while its customer counts towards their agent's load (`counted` is not
// '0'): it stays with that agent, online or not (IM keeps the messages until they log in). It
// closes on /close, on an unfollow, or after `idleMs` without a message from the customer (WeChat
// lets the agent answer for 48 hours after one, so an older conversation holds no place).
//
// A new conversation goes to the online agent with the fewest open conversations under `maxOpen`
// (ties: the one assigned longest ago, then the earlier in IM_AGENTS); a returning customer's
// previous agent first, when online with room. An agent is online unless their latest
// State.StateChange is a Logout or Disconnect (an agent never heard of counts as online: IM sends
// the state only when it changes, and the relay may have started after they logged in).
// With no such agent, or while customers who waited longer are still waiting for the places
// free, the customer waits (in `waiting`, by when they began to), and their messages with them.
//
// The customer hash keeps the conversation's times (ms) for its service levels: `openedAt` (its
// first customer message), `assignedAt` (its agent took it), `answeredAt` (its first answer), and
// `waitEndedAt` when it waited for an agent (when one took it).
//
// desk: { state = agent-state hash, waiting = zset openid -> since (ms), seen = hash openid ->
//   last look (ms) and openid..':job' -> the looking job's key, job = that job's key (BEGIN's), active = zset openid -> last customer message (ms), last = zset agent -> last
//   assignment (ms), customerPrefix = customer hash key without the openid, maxOpen, idleMs,
//   staleMs = a waiting customer whose job has not looked for this long no longer holds a place }
/**
 * A reply's progress, a desk command's included (what it did, for a retry to read), outlives a
 * failed job's retention (a week); a job that completes has it removed with its place in line.
 */
export const PROGRESS_TTL_S = 8 * 24 * 3600;

export const DESK_LUA = `
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function isOnline(desk, agent)
  local s = redis.call('HGET', desk.state, agent)
  if not s then return true end
  local ok, st = pcall(cjson.decode, s)
  if not ok or type(st) ~= 'table' then return true end
  return st.action ~= 'Logout' and st.action ~= 'Disconnect'
end

-- The release before counted every follower towards their agent until they unfollowed; the desk
-- counts open conversations only (those in active). The first script of the desk to run drops
-- those old counts, once (mark: the desk's key saying loads are its own), so agents are not full
-- of customers who left long ago.
-- Accounts that share an IM app share its agents, and count their open conversations together in
-- the load of the first of them (load and mark are that account's). An account's own load
-- (own, ownMark: the same keys where the app is its own) counted apart until then: it joins the
-- shared load once, and again if a process of that release added to it meanwhile (an upgrade
-- rolling out); counts its desk never owned are dropped as above. Every script that reads or
-- changes a load runs this first.
local function ownLoads(load, mark, own, ownMark)
  if redis.call('SET', mark, '1', 'NX') then redis.call('DEL', load) end
  if own == load or redis.call('EXISTS', own) == 0 then return end
  if redis.call('EXISTS', ownMark) == 1 then redis.call('ZUNIONSTORE', load, 2, load, own) end
  redis.call('DEL', own)
end

-- A conversation counts towards its agent's load exactly while it is in active: one the release
-- before the desk counted (never in active; its counts were dropped once, see RESET_LOADS) closes
-- without touching the load.
local function closeConversation(desk, load, openid)
  local c = desk.customerPrefix .. openid
  local agent = redis.call('HGET', c, 'agent')
  local tracked = redis.call('ZREM', desk.active, openid) == 1
  redis.call('HDEL', c, 'handedOn', 'handedOnAt', 'openedBy')
  if agent and redis.call('HGET', c, 'counted') ~= '0' then
    if tracked then redis.call('ZINCRBY', load, -1, agent) end
    redis.call('HSET', c, 'counted', '0')
  end
  return agent
end

-- Waiting customers whose jobs stopped looking leave the queue. A job that last looked long ago
-- but is still there, unfinished (its next look held behind a busy queue, or a retry's backoff),
-- keeps its customer's place for up to ten times as long: the waiting-seen hash names it beside
-- the time (field openid..':job'). Past that (its worker stopped, its queue paused) it holds back
-- nobody, in its account or in another of the IM app.
local function tidyWaiting(waiting, seen, now, staleMs)
  for _, openid in ipairs(redis.call('ZRANGE', waiting, 0, 99)) do
    local at = tonumber(redis.call('HGET', seen, openid) or '0')
    if at < now - staleMs then
      local job = at >= now - 10 * staleMs and redis.call('HGET', seen, openid .. ':job')
      if not (job and redis.call('EXISTS', job) == 1 and redis.call('HEXISTS', job, 'finishedOn') == 0) then
        redis.call('ZREM', waiting, openid)
        redis.call('HDEL', seen, openid, openid .. ':job')
      end
    end
  end
end

-- Conversations idle past idleMs close; waiting customers whose jobs stopped looking leave the queue.
-- The other accounts that share the IM app's agents (desk.others) close theirs too: their places
-- are counted in the same loads, and an account nobody writes to any more would hold them for good.
local function tidy(desk, load, now)
  for _, d in ipairs({desk, unpack(desk.others or {})}) do
    for _, openid in ipairs(redis.call('ZRANGEBYSCORE', d.active, '-inf', now - desk.idleMs, 'LIMIT', 0, 100)) do
      closeConversation(d, load, openid)
    end
  end
  tidyWaiting(desk.waiting, desk.seen, now, desk.staleMs)
end

-- How many customers wait for the customer's place: those ahead in their own account's line, and
-- in the other accounts that share the IM app and so its agents (others: their waiting and
-- waiting-seen keys), whose lines are tidied as the account's own, those waiting since before
-- them or, if they do not wait yet, since now or before (a customer who began to wait in the same
-- millisecond is already waiting: a newcomer goes behind them). Two waiting customers of different
-- accounts who began in the same millisecond each count the other behind, so neither holds the
-- other back: the first to look takes the place.
local function waitingAhead(desk, openid, now)
  local ahead = redis.call('ZRANK', desk.waiting, openid)
  local before = ahead and ('(' .. redis.call('ZSCORE', desk.waiting, openid)) or now
  if not ahead then ahead = redis.call('ZCARD', desk.waiting) end
  for _, other in ipairs(desk.others or {}) do
    tidyWaiting(other.waiting, other.seen, now, desk.staleMs)
    ahead = ahead + redis.call('ZCOUNT', other.waiting, '-inf', before)
  end
  return ahead
end

-- The other accounts' waiting, waiting-seen and open-conversation keys, in threes from KEYS[first]
-- on (see waitingAhead, tidy). Each account's customer hashes are beside its desk: <prefix>:desk:active
-- and <prefix>:customer:<openid> (StateKeys).
local function otherDesks(first)
  local others = {}
  for i = first, #KEYS - 2, 3 do
    local active = KEYS[i + 2]
    others[#others + 1] = { waiting = KEYS[i], seen = KEYS[i + 1], active = active,
      customerPrefix = string.sub(active, 1, #active - #':desk:active') .. ':customer:' }
  end
  return others
end

local function configured(agents, agent)
  if not agent then return false end
  for _, a in ipairs(agents) do
    if a == agent then return true end
  end
  return false
end

-- An event (a follow, a scan, a menu click) goes to an agent but opens no conversation: WeChat
-- lets the agent answer it for a minute only, so it takes no place and never waits. To the
-- customer's agent if configured; else the least busy agent online with room, else the least busy.
-- A conversation open with an agent no longer configured closes first (its place freed), as a
-- message's would (see deskAssign).
local function deskAttach(customer, load, agents, desk, openid)
  ownLoads(load, desk.mark, desk.own, desk.ownMark)
  local current = redis.call('HGET', customer, 'agent')
  if configured(agents, current) then return current end
  if current and redis.call('HGET', customer, 'counted') ~= '0' then closeConversation(desk, load, openid) end
  local best, bestLoad, online = nil, 0, false
  for _, a in ipairs(agents) do
    local on = isOnline(desk, a) and tonumber(redis.call('ZSCORE', load, a) or '0') < desk.maxOpen
    local n = tonumber(redis.call('ZSCORE', load, a) or '0')
    if best == nil or (on and not online) or (on == online and n < bestLoad) then best, bestLoad, online = a, n, on end
  end
  redis.call('HSET', customer, 'agent', best, 'counted', '0')
  return best
end

-- The agent who serves the customer now, or false: the customer waits.
local function deskAssign(customer, load, agents, desk, openid)
  ownLoads(load, desk.mark, desk.own, desk.ownMark)
  local now = nowMs()
  local current = redis.call('HGET', customer, 'agent')
  local open = current and redis.call('HGET', customer, 'counted') ~= '0'
  if open then
    -- Not in active: counted by the release before the desk, so closed here (routed anew, to the same agent first).
    local last = tonumber(redis.call('ZSCORE', desk.active, openid) or '0')
    if configured(agents, current) and last > now - desk.idleMs then
      -- The common case, one message of an open conversation: no look at anyone else's.
      redis.call('ZADD', desk.active, now, openid)
      return current
    end
    closeConversation(desk, load, openid)
  end
  tidy(desk, load, now)
  local free, best, bestLoad, bestLast = 0, nil, 0, 0
  local previous = nil
  for _, a in ipairs(agents) do
    if isOnline(desk, a) then
      local n = tonumber(redis.call('ZSCORE', load, a) or '0')
      if n < desk.maxOpen then
        free = free + desk.maxOpen - n
        local last = tonumber(redis.call('ZSCORE', desk.last, a) or '0')
        if best == nil or n < bestLoad or (n == bestLoad and last < bestLast) then best, bestLoad, bestLast = a, n, last end
        if a == current then previous = a end
      end
    end
  end
  local ahead = waitingAhead(desk, openid, now)
  if best == nil or ahead >= free then
    redis.call('ZADD', desk.waiting, 'NX', now, openid)
    redis.call('HSET', desk.seen, openid, now)
    if desk.job then redis.call('HSET', desk.seen, openid .. ':job', desk.job) end
    return false
  end
  local agent = previous or best
  -- The conversation began with the customer's first message: when they began to wait, if they did.
  local waited = redis.call('ZSCORE', desk.waiting, openid)
  local openedAt = waited or now
  redis.call('ZINCRBY', load, 1, agent)
  redis.call('HSET', customer, 'agent', agent, 'counted', '1', 'openedAt', openedAt, 'assignedAt', now)
  redis.call('HDEL', customer, 'answeredAt')
  -- The job whose message opened it: should that job fail for good, its agent never got a word of
  -- the conversation (the customer's later messages wait behind it), and RELEASE_UNREACHED frees the place.
  if desk.job then redis.call('HSET', customer, 'openedBy', desk.job) else redis.call('HDEL', customer, 'openedBy') end
  -- When a wait for an agent ended (none: the conversation did not wait): its messages could go no sooner.
  if waited then redis.call('HSET', customer, 'waitEndedAt', now) else redis.call('HDEL', customer, 'waitEndedAt') end
  redis.call('ZADD', desk.last, now, agent)
  redis.call('ZADD', desk.active, now, openid)
  redis.call('ZREM', desk.waiting, openid)
  redis.call('HDEL', desk.seen, openid, openid .. ':job')
  return agent
end

-- The least busy agent online with room other than current, or nil.
local function leastBusyOther(desk, load, agents, current, maxOpen)
  local best, bestLoad = nil, 0
  for _, a in ipairs(agents) do
    if a ~= current and isOnline(desk, a) then
      local n = tonumber(redis.call('ZSCORE', load, a) or '0')
      if n < maxOpen and (best == nil or n < bestLoad) then best, bestLoad = a, n end
    end
  end
  return best
end

-- Hands the customer's conversation from its agent to another (a /transfer, or a first answer
-- overdue). assignedAt: the new agent's time to a first answer counts from now. Its time in the
-- active set stays the customer's last message: CLOSE_AFTER_IDLE counts from it, as WeChat's
-- 48 hours do, however often the conversation is handed on. keptBefore (ms): the handing agent's
-- replies IM dates (MsgTime) before this are still delivered, however late they reach the relay
-- (a callback lost and found by the sweep, or on its way when the hand-on came).
local function handOn(desk, customer, load, openid, current, to, keptBefore)
  local now = nowMs()
  local tracked = redis.call('ZSCORE', desk.active, openid)
  if tracked and redis.call('HGET', customer, 'counted') ~= '0' then redis.call('ZINCRBY', load, -1, current) end
  -- The agents who handed this conversation on: their later replies to the customer are not delivered.
  local handed = redis.call('HGET', customer, 'handedOn')
  redis.call('HSET', customer, 'handedOn', handed and (handed .. ',' .. current) or current)
  local at = redis.call('HGET', customer, 'handedOnAt')
  local entry = current .. '=' .. string.format('%d', keptBefore)
  redis.call('HSET', customer, 'handedOnAt', at and (at .. ',' .. entry) or entry)
  redis.call('ZINCRBY', load, 1, to)
  redis.call('HSET', customer, 'agent', to, 'counted', '1', 'assignedAt', now)
  redis.call('HDEL', customer, 'openedBy')
  redis.call('ZADD', desk.last, now, to)
  if not tracked then redis.call('ZADD', desk.active, now, openid) end
end
`;

// KEYS: customer hash, agent-load, agent state, active, last-assigned, the command's progress
// hash, the desk's loads mark, the account's own load and mark (see ownLoads). ARGV: openid, the agent who asked, the agent to hand to ('' = the least busy other agent
// online with room), max open, the command's MsgTime (ms: the agent's replies sent in an earlier second stay theirs), agents... Hands an open conversation to another agent. Only its
// own agent may hand it on. Done once per command: a retried command reads what it did.
// Returns {'moved', to} | {'not_yours', current or ''} | {'none'} | {'same'} | {'withdrawn'} (its
// agent recalled the command before it acted: see WITHDRAW).
export const TRANSFER = `${DESK_LUA}
local done = redis.call('HGET', KEYS[6], 'transferred')
if done then return {'moved', done} end
if redis.call('HEXISTS', KEYS[6], 'withdrawn') == 1 then return {'withdrawn'} end
ownLoads(KEYS[2], KEYS[7], KEYS[8], KEYS[9])
local current = redis.call('HGET', KEYS[1], 'agent')
if current ~= ARGV[2] then return {'not_yours', current or ''} end
if redis.call('HGET', KEYS[1], 'counted') == '0' then return {'not_open'} end
local to = ARGV[3]
if to == current then return {'same'} end
local desk = { state = KEYS[3], active = KEYS[4], last = KEYS[5] }
if to == '' then
  to = leastBusyOther(desk, KEYS[2], {unpack(ARGV, 6)}, current, tonumber(ARGV[4]))
  if to == nil then return {'none'} end
end
handOn(desk, KEYS[1], KEYS[2], ARGV[1], current, to, tonumber(ARGV[5]))
redis.call('HSET', KEYS[6], 'transferred', to)
redis.call('EXPIRE', KEYS[6], ${PROGRESS_TTL_S})
return {'moved', to}
`;

// KEYS: customer hash, agent-load, active, the command's progress hash, the desk's loads mark, the
// account's own load and mark (see ownLoads), the customers owed an answer (service levels). ARGV:
// openid, the agent who asked. Ends an open conversation: the customer's next message is routed
// anew (their agent first, when free), and nothing more is owed an answer in it. Done once per
// command, in one step with what the conversation owed: a retried command reads what it did, and
// leaves alone the conversation the customer's next message opened meanwhile.
// Returns {'closed', '', resolution ms or -1 (no start known)} | {'closed', 'before'} (this
// command closed it on an earlier attempt) |
// {'not_yours', current or ''} | {'not_open'} (closed already, or the customer waits) |
// {'withdrawn'} (its agent recalled the command before it acted: see WITHDRAW).
export const CLOSE = `${DESK_LUA}
if redis.call('HGET', KEYS[4], 'closed') then return {'closed', 'before'} end
if redis.call('HEXISTS', KEYS[4], 'withdrawn') == 1 then return {'withdrawn'} end
local current = redis.call('HGET', KEYS[1], 'agent')
if current ~= ARGV[2] then return {'not_yours', current or ''} end
if redis.call('HGET', KEYS[1], 'counted') == '0' then return {'not_open'} end
local desk = { active = KEYS[3], customerPrefix = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1]) }
ownLoads(KEYS[2], KEYS[5], KEYS[6], KEYS[7])
closeConversation(desk, KEYS[2], ARGV[1])
redis.call('HSET', KEYS[4], 'closed', '1')
redis.call('EXPIRE', KEYS[4], ${PROGRESS_TTL_S})
redis.call('ZREM', KEYS[8], ARGV[1])
local opened = redis.call('HGET', KEYS[1], 'openedAt')
redis.call('HDEL', KEYS[1], 'openedAt')
return {'closed', '', opened and (nowMs() - tonumber(opened)) or -1}
`;

// KEYS: customer hash, agent-load, active, the desk's loads mark, the account's own load and mark
// (see ownLoads). ARGV: openid, the job's key. For a customer's message that failed for good (IM
// refusing it, its attempts used up, stalled too often): when it opened the customer's conversation,
// its agent never got a word of it (the customer's later messages wait behind it in their line),
// so the conversation closes and its place is freed, as a /close would, rather than hold the place
// until CLOSE_AFTER_IDLE. A conversation opened by another job, handed on, or closed meanwhile is
// left as it is. Returns the agent whose place was freed, or false.
export const RELEASE_UNREACHED = `${DESK_LUA}
if redis.call('HGET', KEYS[1], 'openedBy') ~= ARGV[2] or redis.call('HGET', KEYS[1], 'counted') == '0' then return false end
local desk = { active = KEYS[3], customerPrefix = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1]) }
ownLoads(KEYS[2], KEYS[4], KEYS[5], KEYS[6])
return closeConversation(desk, KEYS[2], ARGV[1])
`;

// KEYS: customer hash, agent-load, agent state, waiting, waiting-seen, active, the customer's
// auto-reply mark, the desk's loads mark, the account's own load and mark (see ownLoads), then
// the other accounts' of the IM app waiting, waiting-seen and active keys (see otherDesks). ARGV:
// openid, max open, idle ms, stale ms, off hours (1/0), auto-reply period (ms), customer key
// prefix, the push's dedupe id, agents... What the customer is told while nobody can answer them, at
// most once a period: 'off_hours' outside business hours; 'waiting' when their message will wait
// for an agent (no open conversation, and no place for them among the agents online); else false.
export const AUTO_REPLY = `${DESK_LUA}
local desk = { state = KEYS[3], waiting = KEYS[4], seen = KEYS[5], active = KEYS[6], customerPrefix = ARGV[7],
  maxOpen = tonumber(ARGV[2]), idleMs = tonumber(ARGV[3]), staleMs = tonumber(ARGV[4]), others = otherDesks(11) }
local agents = {unpack(ARGV, 9)}
ownLoads(KEYS[2], KEYS[8], KEYS[9], KEYS[10])
local kind = false
local current = redis.call('HGET', KEYS[1], 'agent')
local open = current and redis.call('HGET', KEYS[1], 'counted') ~= '0' and configured(agents, current)
  and tonumber(redis.call('ZSCORE', desk.active, ARGV[1]) or '0') > nowMs() - desk.idleMs
if ARGV[5] == '1' then
  -- Outside the hours, but in a conversation with an agent who is online: nothing to tell.
  if not (open and isOnline(desk, current)) then kind = 'off_hours' end
else
  if not open then
    tidy(desk, KEYS[2], nowMs())
    local free = 0
    for _, a in ipairs(agents) do
      if isOnline(desk, a) then
        local n = tonumber(redis.call('ZSCORE', KEYS[2], a) or '0')
        if n < desk.maxOpen then free = free + desk.maxOpen - n end
      end
    end
    if waitingAhead(desk, ARGV[1], nowMs()) >= free then kind = 'waiting' end
  end
end
-- The mark holds the push that took it: WeChat's retry of that push (its first answer a 503, the
-- notice never shown) is told again; any other push of the period is not.
if kind and (redis.call('SET', KEYS[7], ARGV[8], 'NX', 'PX', ARGV[6]) or redis.call('GET', KEYS[7]) == ARGV[8]) then return kind end
return false
`;
