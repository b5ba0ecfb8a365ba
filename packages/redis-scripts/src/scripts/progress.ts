// HSET_IF_KEPT. KEYS: a job's progress hash. ARGV: field, value, the hash's lifetime (ms).
// Records the field only while the hash is there (1 recorded, 0 not): what is written after its job
// ended (a final mark whose IM call came back late) must not bring back the hash its job's end
// removed, for a lifetime no job needs it.
export const HSET_IF_KEPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;
