// KEYS: customer hash, reverse map (UserID → openid). ARGV: openid, candidate UserIDs in order.
// The first candidate no other openid owns becomes the customer's: one IM account per openid.
export const CLAIM = `
for i = 2, #ARGV do
  local owner = redis.call('HGET', KEYS[2], ARGV[i])
  if not owner or owner == ARGV[1] then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[1])
    redis.call('HSET', KEYS[1], 'userId', ARGV[i], 'imported', '0')
    return ARGV[i]
  end
end
return false
`;
