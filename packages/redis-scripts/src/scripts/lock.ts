// A lock held by one owner (a random token) for a while: only its owner may release or renew it.
// GET then DEL from the client would delete a lock that expired meanwhile and was taken by
// another owner; these check and act in one step.

// KEYS: the lock. ARGV: the owner. Deletes the lock if it is still this owner's.
export const LOCK_RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

// KEYS: the lock. ARGV: the owner, the new lifetime (ms). Extends the lock if it is still this owner's.
export const LOCK_RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
