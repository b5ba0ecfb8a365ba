import { MARK_LUA } from './service-levels.js';
import { WATCH_LUA } from './window-notices.js';

// RELAYED. KEYS: the desk's unanswered set, the customer's window, the window watch. ARGV: openid,
// now (ms), the watch's cap, mark ('1': FIRST_RESPONSE_SLA_S is on), watch ('1': WINDOW_WARNING_MS
// is on). What follows a customer's message relayed to their agent, in one round trip: they wait
// for an answer from now (markUnanswered), and their window is watched (watchWindow). Returns how
// many open windows went for the watch's cap (0 when not watching).
export const RELAYED = `${MARK_LUA}
${WATCH_LUA}
if ARGV[4] == '1' then markUnanswered(KEYS[1], ARGV[1]) end
if ARGV[5] ~= '1' then return 0 end
return watchWindow(KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3])
`;
