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
//
// As a function (paceTurn) for scripts that take a call's turn along with their own work (see
// BEGIN): it must be their last step, since what follows REPL_NONE is not replicated either.
export const PACE_LUA = `
local function paceTurn(paceKey, windowKey, lockKey, intervalUs, capPerS, token, lockMs, member, mode)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  if token ~= '' then
    if redis.call('GET', lockKey) ~= token then return {-1, now} end
    if redis.call('PTTL', lockKey) < tonumber(lockMs) / 2 then redis.call('PEXPIRE', lockKey, lockMs) end
  end
  redis.set_repl(redis.REPL_NONE)
  local interval = tonumber(intervalUs)
  redis.call('ZREMRANGEBYSCORE', windowKey, '-inf', string.format('%.0f', now - 1000000))
  local freeAt = now
  if redis.call('ZCARD', windowKey) >= tonumber(capPerS) then
    freeAt = tonumber(redis.call('ZRANGE', windowKey, 0, 0, 'WITHSCORES')[2]) + 1000000
  end
  local nextFree = tonumber(redis.call('GET', paceKey) or '0')
  local function advance(from)
    local after = from + interval
    redis.call('SET', paceKey, string.format('%.0f', after), 'PX', math.ceil((after - now) / 1000) + 1000)
  end
  if mode == 'try' and (nextFree > now or freeAt > now) then
    return {math.max(nextFree, freeAt) - now, now}
  end
  if mode == 'take' and nextFree > now then
    local slot = math.max(nextFree, freeAt)
    advance(slot)
    return {slot - now, now}
  end
  if freeAt > now then
    if mode == 'take' then advance(math.max(nextFree, freeAt)) end
    return {freeAt - now, now}
  end
  if mode ~= 'start' then advance(now) end
  redis.call('ZADD', windowKey, string.format('%.0f', now), member)
  redis.call('PEXPIRE', windowKey, 2000)
  return {0, now}
end
`;

export const PACE = `${PACE_LUA}
return paceTurn(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
`;
