// A reply's stop-or-sent decision, made on its progress hash (see the wechat-pusher's
// reply-delivery): a recall and the reply's first send race, and exactly one of them wins.
//
// WITHDRAW. KEYS: the reply's progress hash. ARGV: the hash's lifetime (ms), when (ms). A reply
// with any part marked (`p<i>`: sending, sent or uncertain) has begun to reach the customer:
// 'too_late'. Otherwise it is marked `withdrawn` — also when the reply is not stored yet (its
// callback lost, found later): it then never goes — and the answer is 'stopped' (again for a repeat).
export const WITHDRAW = `
if redis.call('HEXISTS', KEYS[1], 'withdrawn') == 1 then return 'stopped' end
local fields = redis.call('HKEYS', KEYS[1])
for _, field in ipairs(fields) do
  if string.match(field, '^p%d+$') then return 'too_late' end
end
redis.call('HSET', KEYS[1], 'withdrawn', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 'stopped'
`;

// MARK_SENDING. KEYS: the reply's progress hash. ARGV: the part's field (`p<i>`), the hash's
// lifetime (ms). Marks the part `sending` unless the reply was withdrawn (1 marked, 0 withdrawn).
export const MARK_SENDING = `
if redis.call('HEXISTS', KEYS[1], 'withdrawn') == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], 'sending')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;
