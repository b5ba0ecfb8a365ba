// A reply's stop-or-sent decision, made on its progress hash (see the wechat-pusher's
// reply-delivery): a recall and the reply's first send race, and exactly one of them wins.
//
// WITHDRAW. KEYS: the reply's progress hash, its ended record (outcome), its job hash, its job's
// deduplication key. ARGV: the progress hash's lifetime (ms), when (ms). Run when the recall comes,
// and again with the same answer (a repeat, or a job of the release before deciding late):
// - already withdrawn: 'stopped';
// - a desk command (/close, /transfer) that has done what it asks (its progress says `closed` or
//   `transferred`), or any command that has ended (its ended record says `command`): 'carried_out'
//   — a command's own script refuses to act once it is withdrawn, so the two never both happen;
// - a part marked `sent` or `uncertain`: it has begun to reach the customer, 'too_late';
// - a part on its way (`sending`, none sent): 'too_late' too, as it most likely arrives; the
//   recall is kept (`recallAsked`), so that if WeChat refuses the part, the reply is withdrawn
//   then and never sent again (UNMARK_SENDING);
// - its job stored and not finished (waiting, or retried by hand after it failed): it is marked
//   `withdrawn` and never goes, 'stopped';
// - ended (its record, kept a day): 'too_late' if delivered, 'stopped' if withdrawn, else 'finished'
//   (it failed, which its agent was told then); so is a job failed for good whose record is gone
//   (a `failedReason` and no `returnvalue`, as BullMQ keeps them) — both marked `withdrawn` too, so that a retry by hand
//   (the dashboard, retry-failed) never delivers what its agent recalled;
// - its job finished, or gone while its id is still deduplicated (stored, ended, record gone): how
//   it ended is not known any more, 'unknown' — never 'stopped', which it may not have been;
// - otherwise it is not stored yet (its callback lost, found later): marked, 'stopped'.
export const WITHDRAW = `
local function withdraw()
  redis.call('HSET', KEYS[1], 'withdrawn', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return 'stopped'
end
if redis.call('HEXISTS', KEYS[1], 'withdrawn') == 1 then return 'stopped' end
if redis.call('HEXISTS', KEYS[1], 'closed') == 1 or redis.call('HEXISTS', KEYS[1], 'transferred') == 1 then return 'carried_out' end
local fields = redis.call('HGETALL', KEYS[1])
local onItsWay = false
for i = 1, #fields, 2 do
  if string.match(fields[i], '^p%d+$') then
    if fields[i + 1] ~= 'sending' then return 'too_late' end
    onItsWay = true
  end
end
if onItsWay then
  redis.call('HSET', KEYS[1], 'recallAsked', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return 'too_late'
end
local stored = redis.call('EXISTS', KEYS[3]) == 1
if stored and redis.call('HEXISTS', KEYS[3], 'finishedOn') == 0 then return withdraw() end
local ended = redis.call('GET', KEYS[2])
if ended == 'command' then return 'carried_out' end
if ended == 'delivered' then return 'too_late' end
if ended == 'withdrawn' then return 'stopped' end
if ended or (stored and redis.call('HEXISTS', KEYS[3], 'failedReason') == 1 and redis.call('HEXISTS', KEYS[3], 'returnvalue') == 0) then
  withdraw()
  return 'finished'
end
if stored or redis.call('EXISTS', KEYS[4]) == 1 then return 'unknown' end
return withdraw()
`;

// MARK_SENDING. KEYS: the reply's progress hash, its job's lock (the hash again outside a job).
// ARGV: the part's field (`p<i>`), the hash's lifetime (ms), the lock's token ('' outside a job).
// Marks the part `sending` unless the reply was withdrawn (1 marked, 0 withdrawn) or the job's lock
// is no longer this worker's (-1): a worker paused between its lock check and this mark, whose job
// another worker took over and may have sent the part meanwhile, must not mark it and send it again.
export const MARK_SENDING = `
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[3] then return -1 end
if redis.call('HEXISTS', KEYS[1], 'withdrawn') == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], 'sending')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

// UNMARK_SENDING. KEYS: the reply's progress hash, its job's lock (the hash again outside a job).
// ARGV: the part's field (`p<i>`), the hash's lifetime (ms), when (ms), the lock's token ('' outside
// a job). A part WeChat refused (or that never left) loses its `sending` mark, so a later attempt
// sends it: only this worker's own mark (the lock still its own, the part still `sending`), never a
// mark another worker wrote after taking the job over. But if its agent recalled the reply while it
// was on its way (WITHDRAW kept `recallAsked`) and no part has gone, the reply is withdrawn now and
// never sent (0); otherwise 1.
export const UNMARK_SENDING = `
if ARGV[4] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[4] then return 1 end
if redis.call('HGET', KEYS[1], ARGV[1]) ~= 'sending' then return 1 end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HEXISTS', KEYS[1], 'recallAsked') == 0 then return 1 end
local fields = redis.call('HKEYS', KEYS[1])
for _, field in ipairs(fields) do
  if string.match(field, '^p%d+$') then return 1 end
end
redis.call('HSET', KEYS[1], 'withdrawn', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0
`;
