import type { ImClient } from '@wxim/im';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long a callback waits for IM's word before it takes the offline event as it came (IM waits 2 s for the answer). */
export const ONLINE_CHECK_MS = 1000;

/**
 * Whether IM still has `agent` online on another connection, though one of theirs just closed.
 *
 * IM calls State.StateChange for each connection: an agent on their PC and their phone gets a
 * Disconnect when the phone's app is killed, and with older SDKs a Logout when a login elsewhere
 * kicks a session out. Taken as it comes, either would mark an agent offline who is still at
 * their desk, and customers would wait or go to others. So a Logout or Disconnect is checked
 * against IM's own view over every device (query_online_status, under the fleet's pace of that
 * command): only `Online` keeps the agent online (a backgrounded app, `PushOnline`, does not).
 * An answer that does not come within ONLINE_CHECK_MS, or an error, leaves the event as it came.
 */
export async function onlineElsewhere(
  im: Pick<ImClient, 'onlineStatus'>,
  /** Waits for the call's turn under the fleet's pace of its command. */
  turn: (command: string) => Promise<unknown>,
  agent: string,
  waitMs = ONLINE_CHECK_MS,
): Promise<boolean> {
  const asked = im
    .onlineStatus([agent], { beforeSend: async (command) => (await turn(command), true) })
    .then((status) => status?.get(agent) === 'Online')
    .catch(() => false);
  const timer = new AbortController();
  const late = sleep(waitMs, false, { signal: timer.signal }).catch(() => false);
  try {
    return await Promise.race([asked, late]);
  } finally {
    timer.abort();
  }
}
