/** How far an action may come before the newest recorded and still widen the window (its push stored that much later, by its own time). */
const ORDER_SLACK_MIN = 10;
/** At most this many ids are kept (the latest): past them, a retried older push may widen the window again, which WeChat corrects (45047). */
const IDS_KEPT = 64;

// Times are ms and written with %.0f: Lua's own number format keeps 14 digits only.
//
// recordAction: the customer's window, the recent customers (a sorted set by their latest action);
// the action's time, the replies and the time it grants, the key's margin, the openid, how long a
// customer counts as recent, the action's id. An action already recorded (its id, among the last
// ${IDS_KEPT} of the last ${ORDER_SLACK_MIN} minutes before the newest) changes nothing (0): a retried push must
// not give back replies already sent; a second message in the same second does. An action older
// than the newest recorded (its push stored later: a retry of WeChat's, a menu click taken out of
// line while the message waited in its line) still widens the window, as WeChat counted it in its
// own order: its replies less those sent since the first record of a later action (each id keeps
// the count of replies sent when it was recorded: 'id@at@sent'; CONSUME counts them), never a
// window WeChat closed (45015, deadline 0) or found used up (45047, 'exhausted') after the newest
// action; one older than the ids kept changes nothing. Quotas do not add up: while a window is
// open, the count and the deadline each become the larger of what the action grants and what was
// left. WeChat documents this for Mini Programs only; we assume the same for Official Accounts.
// Shared by RECORD and the relay's BEGIN (see relay-begin.ts).
export const RECORD_LUA = `
local function recordAction(window, recent, atArg, replies, periodMs, marginMs, openid, recentMs, id)
  local at = tonumber(atArg)
  local last = redis.call('HMGET', window, 'at', 'remaining', 'deadline', 'ids', 'sent', 'exhausted')
  local lastAt = tonumber(last[1])
  local sentNow = tonumber(last[5]) or 0
  local newest = at
  if lastAt and lastAt > at then newest = lastAt end
  local keepFrom = newest - ${ORDER_SLACK_MIN * 60_000}
  if at < keepFrom then return 0 end
  -- WeChat closed the window (45015) or found it used up (45047) after the newest action, knowing the older ones.
  if at < newest and (last[3] == '0' or last[6] == '1') then return 0 end
  -- The ids recorded: 'id@at@sent' ('id@at' and 'id' as written before: no count; 'id' is of the last action's time).
  local ids = {}
  local sentSince
  for entry in string.gmatch(last[4] or '', '[^,]+') do
    local eid, eat, esent = string.match(entry, '^([^@]*)@(%d+)@(%d+)$')
    if not eid then eid, eat = string.match(entry, '^([^@]*)@(%d+)$') end
    if not eid then eid, eat = entry, last[1] end
    if eid == id then return 0 end
    if esent and tonumber(eat) > at and (sentSince == nil or tonumber(esent) < sentSince) then sentSince = tonumber(esent) end
    if tonumber(eat) >= keepFrom then ids[#ids + 1] = eid .. '@' .. eat .. (esent and ('@' .. esent) or '') end
  end
  ids[#ids + 1] = id .. '@' .. string.format('%.0f', at) .. '@' .. sentNow
  while #ids > ${IDS_KEPT} do table.remove(ids, 1) end
  local remaining = tonumber(replies)
  local deadline = at + tonumber(periodMs)
  local leftUntil = tonumber(last[3]) or 0
  if leftUntil > at then
    -- An older action's grant was spent on the replies sent since a later action was recorded: WeChat counted them against it.
    if at < newest and sentSince then remaining = remaining - (sentNow - sentSince) end
    remaining = math.max(remaining, tonumber(last[2]) or 0)
    deadline = math.max(deadline, leftUntil)
  end
  redis.call('HSET', window, 'at', string.format('%.0f', newest), 'remaining', remaining, 'deadline', string.format('%.0f', deadline), 'ids', table.concat(ids, ','))
  if at >= newest then redis.call('HDEL', window, 'exhausted') end
  redis.call('PEXPIRE', window, string.format('%.0f', deadline - newest + tonumber(marginMs)))
  redis.call('ZADD', recent, 'GT', string.format('%.0f', at), openid)
  redis.call('ZREMRANGEBYSCORE', recent, '-inf', string.format('%.0f', newest - tonumber(recentMs)))
  return 1
end
`;

// RECORD. KEYS: the customer's window, the recent customers. ARGV: the action's time, the replies
// and the time it grants, the key's margin, the openid, how long a customer counts as recent, the
// action's id (see recordAction).
export const RECORD = `${RECORD_LUA}
return recordAction(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
`;

// CONSUME. KEYS: the window. ARGV: now. One reply fewer while the window is open; never below 0;
// each one counted ('sent', see recordAction). Answers what is left, or -1 when no window is open.
export const CONSUME = `
local v = redis.call('HMGET', KEYS[1], 'remaining', 'deadline')
local remaining, deadline = tonumber(v[1]), tonumber(v[2])
if not remaining or not deadline or deadline <= tonumber(ARGV[1]) then return -1 end
if remaining <= 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'sent', 1)
return redis.call('HINCRBY', KEYS[1], 'remaining', -1)
`;

// END. KEYS: the window. ARGV: the field to zero ('remaining' or 'deadline'), the action time the
// caller saw ('' for any). A window opened again since (a newer action) is left alone; a key gone
// is not created. A window used up is marked so ('exhausted'): an older action recorded later gives
// nothing back (see recordAction).
export const END = `
local at = redis.call('HGET', KEYS[1], 'at')
if not at or (ARGV[2] ~= '' and at ~= ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], '0')
if ARGV[1] == 'remaining' then redis.call('HSET', KEYS[1], 'exhausted', '1') end
return 1
`;
