// Times are ms and written with %.0f: Lua's own number format keeps 14 digits only.
//
// RECORD. KEYS: the customer's window, the recent customers (a sorted set by their latest action).
// ARGV: the action's time, the replies and the time it grants, the key's margin, the openid, how
// long a customer counts as recent, the action's id. An action older than the last one recorded,
// or one already recorded (its id, among the actions of that same time), changes nothing: a
// retried push must not give back replies already sent; a second message in the same second does. Quotas do not add up: while a window is open, the
// count and the deadline each become the larger of what the action grants and what was left.
// WeChat documents this for Mini Programs only; we assume the same for Official Accounts.
export const RECORD = `
local at = tonumber(ARGV[1])
local last = redis.call('HMGET', KEYS[1], 'at', 'remaining', 'deadline', 'ids')
local ids = ARGV[7]
if last[1] and tonumber(last[1]) > at then return 0 end
if last[1] and tonumber(last[1]) == at then
  if string.find(',' .. (last[4] or '') .. ',', ',' .. ARGV[7] .. ',', 1, true) then return 0 end
  ids = (last[4] or '') .. ',' .. ARGV[7]
end
local remaining = tonumber(ARGV[2])
local deadline = at + tonumber(ARGV[3])
local leftUntil = tonumber(last[3]) or 0
if leftUntil > at then
  remaining = math.max(remaining, tonumber(last[2]) or 0)
  deadline = math.max(deadline, leftUntil)
end
redis.call('HSET', KEYS[1], 'at', string.format('%.0f', at), 'remaining', remaining, 'deadline', string.format('%.0f', deadline), 'ids', ids)
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', deadline - at + tonumber(ARGV[4])))
redis.call('ZADD', KEYS[2], 'GT', string.format('%.0f', at), ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.0f', at - tonumber(ARGV[6])))
return 1
`;

// CONSUME. KEYS: the window. ARGV: now. One reply fewer while the window is open; never below 0.
// Answers what is left, or -1 when no window is open.
export const CONSUME = `
local v = redis.call('HMGET', KEYS[1], 'remaining', 'deadline')
local remaining, deadline = tonumber(v[1]), tonumber(v[2])
if not remaining or not deadline or deadline <= tonumber(ARGV[1]) then return -1 end
if remaining <= 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], 'remaining', -1)
`;

// END. KEYS: the window. ARGV: the field to zero ('remaining' or 'deadline'), the action time the
// caller saw ('' for any). A window opened again since (a newer action) is left alone; a key gone
// is not created.
export const END = `
local at = redis.call('HGET', KEYS[1], 'at')
if not at or (ARGV[2] ~= '' and at ~= ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], '0')
return 1
`;
