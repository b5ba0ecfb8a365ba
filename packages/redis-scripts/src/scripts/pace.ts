// KEYS: the scope's pace key, its window (a sorted set of the calls started in the last second),
// the job's lock. ARGV: the interval between calls (µs), the cap per second, the lock's token (''
// for a call outside a job), the lock's duration (ms), a member unique to this call, and 'take'
// (a call asking) or 'start' (a call whose reserved slot has come).
//
// Times are whole microseconds of Redis's clock (TIME), so every worker counts the same seconds
// whatever its own clock says; they are written with %.0f (Lua's own number format keeps 14
// digits, too few for them).
//
// First, the job's lock must still be ours ({-1} otherwise); a lock running short is renewed, as
// BullMQ's own renewal would. Then the pace: the pace key holds when the next call may start (a
// GCRA), so calls are spaced one interval apart, never bunched at the start of a second; and the
// window holds the hard cap, at most `cap` calls started in any second. A call that may start now
// is recorded and told {0, now}; otherwise it is given the next free slot and told how long to
// wait ({µs, now}), after which it asks again with 'start'. A call that would rather not go than
// wait ('try', e.g. a typing indicator) is recorded only if it may start now; otherwise it is told
// the wait and reserves nothing.
//
// The pace's own keys are not written to the AOF or replicas (REPL_NONE): they matter for a second
// at most, and with appendfsync always every write makes its reply wait for a disk sync. A lock
// renewal is replicated as usual.
export const PACE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if ARGV[3] ~= '' then
  if redis.call('GET', KEYS[3]) ~= ARGV[3] then return {-1, now} end
  if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[4]) / 2 then redis.call('PEXPIRE', KEYS[3], ARGV[4]) end
end
redis.set_repl(redis.REPL_NONE)
local interval = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.0f', now - 1000000))
local freeAt = now
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  freeAt = tonumber(redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2]) + 1000000
end
local nextFree = tonumber(redis.call('GET', KEYS[1]) or '0')
local function advance(from)
  local after = from + interval
  redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX', math.ceil((after - now) / 1000) + 1000)
end
if ARGV[6] == 'try' and (nextFree > now or freeAt > now) then
  return {math.max(nextFree, freeAt) - now, now}
end
if ARGV[6] == 'take' and nextFree > now then
  local slot = math.max(nextFree, freeAt)
  advance(slot)
  return {slot - now, now}
end
if freeAt > now then
  if ARGV[6] == 'take' then advance(math.max(nextFree, freeAt)) end
  return {freeAt - now, now}
end
if ARGV[6] ~= 'start' then advance(now) end
redis.call('ZADD', KEYS[2], string.format('%.0f', now), ARGV[5])
redis.call('PEXPIRE', KEYS[2], 2000)
return {0, now}
`;
