// KEYS: im-callback's heartbeat, its gaps. ARGV: silence (ms). Records Redis's time as the latest
// beat; when the previous beat is older than the silence, no instance was taking callbacks since:
// that time range is a gap (member `<from>-<to>`, scored by its start). Answers {now, the new
// gap's start or 0, how many gaps wait for a recovery}.
export const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
redis.call('SET', KEYS[1], string.format('%.0f', now))
if last > 0 and now - last > tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[2], string.format('%.0f', last), string.format('%.0f-%.0f', last, now))
  return {now, last, redis.call('ZCARD', KEYS[2])}
end
return {now, 0, redis.call('ZCARD', KEYS[2])}
`;
