import { MARK_LUA } from './service-levels.js';
import { WATCH_LUA } from './window-notices.js';

// RELAYED. KEYS: the desk's unanswered set, the customer's window, the window watch, the customer's
// record. ARGV: openid, now (ms), the watch's cap, mark ('1': FIRST_RESPONSE_SLA_S is on), watch
// ('1': WINDOW_WARNING_MS is on), the message's CreateTime (ms). What follows a customer's message relayed to their agent, in one
// round trip: they wait for an answer from now (markUnanswered), their window is watched
// (watchWindow), and who serves them now is read (a hand-on that landed while the send was on its
// way: see the im-worker's processor). Returns how many open windows went for the watch's cap (0
// when not watching) and the customer's agent (false for none).
export const RELAYED = `${MARK_LUA}
${WATCH_LUA}
if ARGV[4] == '1' then
  markUnanswered(KEYS[1], ARGV[1])
  -- The customer's latest message, by its CreateTime: a reply sent before it does not answer it (see ANSWERED).
  local at = tonumber(ARGV[6])
  if at and at > (tonumber(redis.call('HGET', KEYS[4], 'messageAt') or '') or 0) then redis.call('HSET', KEYS[4], 'messageAt', ARGV[6]) end
end
local agent = redis.call('HGET', KEYS[4], 'agent')
if ARGV[5] ~= '1' then return {0, agent} end
return {watchWindow(KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3]), agent}
`;
