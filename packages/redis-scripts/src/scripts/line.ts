import { WAKE_TO_FRONT_LUA } from './queue.js';

/** A line lives this long after its last append or look (s): bounded memory for customers who went quiet. */
export const LINE_TTL_S = 7 * 24 * 3600;

// Drops entries whose job no longer waits (removed from the dashboard, finished, or a repeat
// appended after its job completed) and returns the first job still to run. A job is its BullMQ
// hash, `jobPrefix .. id`, and finished once BullMQ has set its `finishedOn` (both assumptions are
// written down, and checked, in @wxim/queue's bullmq-layout). A line with a job still to run lives
// on from its looks: jobs that wait a week for an agent (they look every 30 s) keep their order,
// where an expired line would take them back in whatever order they next looked. Renewed once half
// its week is gone, so most looks only read (a write would go to the AOF and the replicas each time).
export const LIVE_HEAD_LUA = `
local function liveHead(line, jobPrefix)
  for _ = 1, 100 do
    local head = redis.call('ZRANGE', line, 0, 0)[1]
    if not head then return false end
    local job = jobPrefix .. head
    if redis.call('EXISTS', job) == 1 and redis.call('HEXISTS', job, 'finishedOn') == 0 then
      if redis.call('TTL', line) < ${LINE_TTL_S / 2} then redis.call('EXPIRE', line, ${LINE_TTL_S}) end
      return head
    end
    redis.call('ZREM', line, head)
  end
  return false
end
`;

// HEAD. KEYS: line zset. ARGV: job key prefix. The line's live head (see liveHead): its first job
// still there and unfinished, the finished ones before it dropped on the way; false for none.
export const HEAD = `${LIVE_HEAD_LUA}
return liveHead(KEYS[1], ARGV[1])
`;

// KEYS: line zset, global sequence, the line's key in the release before lines were scoped by
// queue (the line itself when there is none), the line's places kept ahead (see PLACE_AHEAD; the
// line itself for a queue whose lines keep none, e.g. the gateway's: no look on its path).
// ARGV: job id, ttl, job key prefix. Appends once; the score is a Redis-side sequence, so the line
// keeps the order in which jobs were stored, whichever process stored them, unless a place was
// kept for the job ahead of a head that waits for it (and still does: in line, not finished; a
// head gives its places up before it goes, see PLACE_AHEAD), and the place is not ahead of
// another head (which may have begun): then it is taken. An earlier
// release's line is carried over once, its order kept (same sequence).
export const APPEND = `${LIVE_HEAD_LUA}
if KEYS[3] ~= KEYS[1] and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('ZUNIONSTORE', KEYS[1], 2, KEYS[1], KEYS[3], 'AGGREGATE', 'MIN')
  redis.call('DEL', KEYS[3])
end
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local score
local kept = KEYS[4] ~= KEYS[1] and redis.call('HGET', KEYS[4], ARGV[1])
if kept then
  redis.call('HDEL', KEYS[4], ARGV[1])
  local at, keeper = string.match(kept, '^(%S+) (.+)$')
  local job = ARGV[3] .. (keeper or '')
  if at and redis.call('ZSCORE', KEYS[1], keeper) and redis.call('EXISTS', job) == 1 and redis.call('HEXISTS', job, 'finishedOn') == 0 then
    -- Never ahead of a head that may have begun: only the keeper (which waits), or behind the head.
    local head = liveHead(KEYS[1], ARGV[3])
    if head == keeper or (head and tonumber(redis.call('ZSCORE', KEYS[1], head)) < tonumber(at)) then score = at end
  end
end
redis.call('ZADD', KEYS[1], score or redis.call('INCR', KEYS[2]), ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
`;

// KEYS: line zset. ARGV: job key prefix, job id. The job's place: at the head, waiting, or absent.
export const TURN = `${LIVE_HEAD_LUA}
local head = liveHead(KEYS[1], ARGV[1])
if head == ARGV[2] then return 'head' end
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 'waiting' end
return 'absent'
`;

// KEYS: line zset, the job's relay ids, then the queue's delayed, wait, meta, active, marker and
// events keys. ARGV: job key prefix, job id, keep the ids (1/0).
// Removes the job and returns the next to run, woken in the same step if it stepped aside (see
// WAKE_TO_FRONT; its job hash is the job key prefix and its id): one round trip where a
// customer's messages follow each other (a backlog, a burst). A failed job keeps its ids: retried
// by hand, it is relayed with them again (see RelayTurn).
// Only a job this server holds as finished (or holds no more) leaves: after a failover the new
// primary may lack the completion the worker saw on the old one, and runs the job again; it must
// do so from its place, with its ids (so IM drops the repeat), not from the back of its line.
export const FINISH = `${LIVE_HEAD_LUA}
${WAKE_TO_FRONT_LUA}
local job = ARGV[1] .. ARGV[2]
if redis.call('EXISTS', job) == 0 or redis.call('HEXISTS', job, 'finishedOn') == 1 then
  redis.call('ZREM', KEYS[1], ARGV[2])
  if ARGV[3] ~= '1' then redis.call('DEL', KEYS[2]) end
end
local nextJob = liveHead(KEYS[1], ARGV[1])
if nextJob then wakeToFront(KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], ARGV[1] .. nextJob, nextJob) end
return nextJob
`;

// KEYS: line zset, the line's places kept ahead, the head's progress hash, then the queue's
// delayed, wait, meta, active, marker and events keys, then the head job's lock (the line again
// outside a job). ARGV: job key prefix, the job at the head (which has not begun), how long a kept
// place lasts (ms), '1' to keep places for jobs not stored yet or '0' to give them up (the head
// waits no longer), the lock's token ('' outside a job), then the ids of jobs that must go before
// the head, in their order. Changes nothing and returns -1 when the lock is no longer the token's:
// a worker paused past its lock, whose job another worker took and may be sending, must not put
// anything ahead of it. Nor is anything put ahead of a head that has begun to send (its first
// part marked in its progress, 'p0'): the customer has part of it, and the rest follows at once.
// Puts each of them ahead of the head, in their order: one in line behind it moves there; one not
// stored yet (no job, no deduplication key: its store is late) has its place kept there, for as
// long as the head waits in line (see APPEND), or has it given up; one finished, or stored and
// gone, is passed over. Wakes the new head if it stepped aside. Returns false when the job named
// is not the head; else {moved, kept}: the ids now in line ahead, and those not stored yet. When
// the head goes now (nothing moved; nothing kept, or places given up), its list is dropped from
// its progress ('first').
export const PLACE_AHEAD = `${LIVE_HEAD_LUA}
${WAKE_TO_FRONT_LUA}
if ARGV[5] ~= '' and redis.call('GET', KEYS[10]) ~= ARGV[5] then return -1 end
local before = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not before or liveHead(KEYS[1], ARGV[1]) ~= ARGV[2] then return false end
if redis.call('HEXISTS', KEYS[3], 'p0') == 1 then
  redis.call('HDEL', KEYS[3], 'first')
  return {{}, {}}
end
before = tonumber(before)
local n = #ARGV - 5
local moved, kept = {}, {}
for i = 6, #ARGV do
  local id = ARGV[i]
  local score = before - (n - (i - 6)) / (n + 1)
  local job = ARGV[1] .. id
  if redis.call('ZSCORE', KEYS[1], id) then
    if redis.call('EXISTS', job) == 1 and redis.call('HEXISTS', job, 'finishedOn') == 0 then
      redis.call('ZADD', KEYS[1], score, id)
      table.insert(moved, id)
    end
  elseif redis.call('EXISTS', job) == 0 and redis.call('EXISTS', ARGV[1] .. 'de:' .. id) == 0 then
    if ARGV[4] == '1' then
      redis.call('HSET', KEYS[2], id, score .. ' ' .. ARGV[2])
      redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
    else
      redis.call('HDEL', KEYS[2], id)
    end
    table.insert(kept, id)
  end
end
if #moved > 0 then
  local head = liveHead(KEYS[1], ARGV[1])
  if head and head ~= ARGV[2] then wakeToFront(KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], ARGV[1] .. head, head) end
elseif #kept == 0 or ARGV[4] ~= '1' then
  redis.call('HDEL', KEYS[3], 'first')
end
return {moved, kept}
`;
