// KEYS: im-callback's fleet heartbeat, its gaps, the instances' beats (a hash: id → last beat).
// ARGV: the fleet's silence (ms), this instance's id, an instance's silence (ms), `beat` or `stop`.
//
// Records Redis's time as the fleet's latest beat and as this instance's (or, on `stop`, removes
// this instance: a clean stop). A gap — a time range in which IM's callbacks may have been
// missed, member `<from>-<to>` scored by its start — is left
// - when the fleet's previous beat is older than the fleet's silence, or the last instance stopped
//   cleanly (the heartbeat then reads `stopped:<ms>`): no instance was running since;
// - for every other instance whose last beat is older than an instance's silence: it stopped
//   without a clean stop (killed, its node lost), and the callbacks it was answering may be lost,
//   from its last beat to now, whatever the other instances did meanwhile. It is removed at once,
//   so only one instance leaves its gap.
// Answers {now, gaps left now, gaps waiting for a recovery, {ids of the instances found dead}}.
export const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function gap(from)
  redis.call('ZADD', KEYS[2], string.format('%.0f', from), string.format('%.0f-%.0f', from, now))
end
local found = 0
local heartbeat = redis.call('GET', KEYS[1]) or '0'
local stopped = tonumber(string.match(heartbeat, '^stopped:(%d+)$'))
local last = tonumber(heartbeat) or 0
redis.call('SET', KEYS[1], string.format('%.0f', now))
if stopped then
  gap(stopped)
  found = found + 1
elseif last > 0 and now - last > tonumber(ARGV[1]) then
  gap(last)
  found = found + 1
end
local dead = {}
local beats = redis.call('HGETALL', KEYS[3])
for i = 1, #beats, 2 do
  local beat = tonumber(beats[i + 1]) or 0
  if beats[i] ~= ARGV[2] and now - beat > tonumber(ARGV[3]) then
    redis.call('HDEL', KEYS[3], beats[i])
    gap(beat)
    found = found + 1
    dead[#dead + 1] = beats[i]
  end
end
if ARGV[4] == 'stop' then
  redis.call('HDEL', KEYS[3], ARGV[2])
  -- The last instance: until one starts, nothing takes callbacks, however short the time.
  if redis.call('HLEN', KEYS[3]) == 0 then redis.call('SET', KEYS[1], 'stopped:' .. string.format('%.0f', now)) end
else
  redis.call('HSET', KEYS[3], ARGV[2], string.format('%.0f', now))
end
return {now, found, redis.call('ZCARD', KEYS[2]), dead}
`;
