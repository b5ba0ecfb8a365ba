// The agent's notices about a customer's reply window (see WindowNotices in @wxim/state). Times are
// ms, written with %.0f. A window is told apart from the next by its deadline: a customer's message
// moves it, so "one notice per window" is one notice per customer message. The notice key holds who
// claimed the window's one notice: 'warning' (the check) or a reply's job id (its last reply).

// watchWindow: the customer's window, the watch (customers by deadline); openid, now, the watch's
// cap. Watches the customer's open window from now on. Windows already over go first, so the cap
// counts open windows only; over it, the windows closing last go (the customers who wrote last,
// this one among them: the furthest from a warning, and watched again when they write again).
// Returns how many open windows went for the cap. Run by RELAYED (see relayed.ts).
export const WATCH_LUA = `
local function watchWindow(window, watch, openid, nowArg, capArg)
  local now = tonumber(nowArg)
  redis.call('ZREMRANGEBYSCORE', watch, '-inf', string.format('%.0f', now))
  local deadline = tonumber(redis.call('HGET', window, 'deadline'))
  if not deadline or deadline <= now then return 0 end
  redis.call('ZADD', watch, 'GT', string.format('%.0f', deadline), openid)
  local over = redis.call('ZCARD', watch) - tonumber(capArg)
  if over <= 0 then return 0 end
  redis.call('ZREMRANGEBYRANK', watch, -over, -1)
  return over
end
`;

// ANSWERED. KEYS: the window, the watch. ARGV: openid, when the reply was sent (ms, IM's MsgTime),
// the time a message grants. A reply reached the customer: nothing to warn of, unless it was sent
// before the message the window's deadline is from (its deadline less what a message grants, as
// WARN_CLAIM reads it), which still waits for an answer; and when the latest reply was sent (so that
// a message relayed again later is known to be answered already).
export const ANSWERED = `
local w = redis.call('HMGET', KEYS[1], 'deadline', 'replied')
local sent = tonumber(ARGV[2])
local deadline = tonumber(w[1])
if not deadline or sent >= deadline - tonumber(ARGV[3]) then redis.call('ZREM', KEYS[2], ARGV[1]) end
if deadline and sent > (tonumber(w[2]) or 0) then redis.call('HSET', KEYS[1], 'replied', ARGV[2]) end
return 1
`;

// WARN_CLAIM. KEYS: the window, the watch, the window's notice. ARGV: openid, the watched deadline,
// now, the time a message grants, the notice key's margin. 1: warn (claimed now, or claimed by a
// check that may have stopped before telling); 0: not, and the customer is no longer watched when
// the window has moved on, closed, used its replies, was answered, or had its notice already.
export const WARN_CLAIM = `
local d = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1])) ~= d then return 0 end
local w = redis.call('HMGET', KEYS[1], 'deadline', 'remaining', 'replied')
local replied = tonumber(w[3])
if tonumber(w[1]) ~= d or d <= now or (tonumber(w[2]) or 0) <= 0 or (replied and replied >= d - tonumber(ARGV[4])) then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
local owner = redis.call('GET', KEYS[3])
if owner and owner ~= 'warning' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
if not owner then redis.call('SET', KEYS[3], 'warning', 'PX', string.format('%.0f', d - now + tonumber(ARGV[5]))) end
return 1
`;

// WARNED. KEYS: the watch. ARGV: openid, the deadline warned of. Unwatched, unless a newer message
// has moved the window since.
export const WARNED = `
if tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1])) == tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 1
`;

// LAST_REPLY_CLAIM. KEYS: the window, the window's notice. ARGV: the deadline read, now, the reply's
// job id, the margin. 1 when the window is still that one, open, with no reply left, and its notice
// is this reply's (claimed now, or before by this same job: a job run again tells again, and IM
// drops the repeat).
export const LAST_REPLY_CLAIM = `
local d = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local w = redis.call('HMGET', KEYS[1], 'deadline', 'remaining')
if tonumber(w[1]) ~= d or d <= now or tonumber(w[2]) ~= 0 then return 0 end
local owner = redis.call('GET', KEYS[2])
if not owner then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', string.format('%.0f', d - now + tonumber(ARGV[4])))
  return 1
end
if owner == ARGV[3] then return 1 end
return 0
`;
