// Scripts over BullMQ's own keys (pinned to BullMQ 6.7.0): the keys come from @wxim/queue's
// bullmq-layout, where what BullMQ does with each is written down and checked by its contract test.

// KEYS: the queue's delayed, wait, meta, active, marker and events keys, the job's hash. ARGV: job id.
// BullMQ's promote, but to the front of the wait list instead of the back: the job a finished one
// woke is the next of its customer's line and runs next, not behind the whole backlog (which, for
// a customer who wrote several messages in a row, would cost a pass through the backlog each).
// Same effects otherwise: the job leaves `delayed`, a marker wakes a blocked worker unless the
// queue is paused or at its concurrency, a `waiting` event, `delay` reset. 0: woken; -3: the job
// was not delayed (still waiting, active, or gone), nothing to do.
//
// As a function (wakeToFront) for scripts that wake the next job of a line with their own work
// (see FINISH).
export const WAKE_TO_FRONT_LUA = `
local function wakeToFront(delayed, wait, meta, active, marker, events, job, jobId)
  if redis.call('ZREM', delayed, jobId) == 0 then return -3 end
  redis.call('RPUSH', wait, jobId)
  local m = redis.call('HMGET', meta, 'paused', 'concurrency')
  local held = m[1] or (m[2] and redis.call('LLEN', active) >= tonumber(m[2]))
  if not held then redis.call('ZADD', marker, 0, '0') end
  redis.call('XADD', events, '*', 'event', 'waiting', 'jobId', jobId, 'prev', 'delayed')
  redis.call('HSET', job, 'delay', 0)
  return 0
end
`;

export const WAKE_TO_FRONT = `${WAKE_TO_FRONT_LUA}
return wakeToFront(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], ARGV[1])
`;

// KEYS: the queue's rate-limiter key. ARGV: hold (ms), the value that marks a hold. BullMQ counts
// jobs in this key and reads a value at its limiter's max as "held" until the key expires.
// worker.rateLimit() sets it outright; this only lengthens a hold, so a 1 s "slow down" from one
// IM call cannot cut short the minute another asked for.
export const HOLD_QUEUE = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[2]) or redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
end
return redis.call('PTTL', KEYS[1])
`;
