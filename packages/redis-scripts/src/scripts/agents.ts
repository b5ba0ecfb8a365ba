import { DESK_LUA } from './desk.js';

// KEYS: customer hash, agent-load, active, waiting, waiting-seen. ARGV: openid. The customer's
// conversation closes (an unfollow): they stop counting towards their agent's load and leave the
// waiting queue; they keep the agent, who gets them first should they return. Idempotent: a
// retried unfollow releases once.
export const RELEASE = `${DESK_LUA}
local customerPrefix = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1])
local desk = { active = KEYS[3], customerPrefix = customerPrefix }
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
return closeConversation(desk, KEYS[2], ARGV[1])
`;
