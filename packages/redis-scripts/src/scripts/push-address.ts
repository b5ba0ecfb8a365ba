// PUSH_ADDRESS_ONCE. KEYS: the signed address's key (its timestamp and nonce). ARGV: what the
// address was used for (a digest of the push's body, or the verification's), how long the address
// is remembered (s). A plain signature covers WeChat's token, timestamp and nonce, not the body:
// the first use of an address binds it to what it carried, and the address then serves that again
// only (WeChat's own retries of the push: 1), never another body (0).
export const PUSH_ADDRESS_ONCE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', tonumber(ARGV[2])) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
`;
