// The fleet's access_token (see AccessTokenStore in @wxim/wechat). Each script touches one key, so
// the store works on a Redis Cluster whatever the key's slot.

// Its fetch lock is an owner lock (./lock.ts).

// KEYS: the stored token. ARGV: a token WeChat refused. Drops the stored token only if it is that one.
export const TOKEN_DROP_IF_STORED = `local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, doc = pcall(cjson.decode, v)
if ok and type(doc) == 'table' and doc.token == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
