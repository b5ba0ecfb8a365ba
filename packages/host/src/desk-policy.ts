import type { Config } from '@wxim/config';
import type { DeskPolicy } from '@wxim/state';

/** How long a job that stepped aside sleeps before it looks again when nobody wakes it (see the processor). */
export const LOOK_AGAIN_MS = 30_000;

/**
 * The desk's rules from the configuration. A waiting customer's job looks for an agent at least
 * every `waitMs`; one that has not looked for four times that (its job was removed, or no
 * im-worker runs) gives up its place in the queue, so it never holds back those behind it.
 */
export function deskPolicy(config: Config, waitMs = LOOK_AGAIN_MS): DeskPolicy {
  return { maxOpen: config.desk.maxOpen, idleMs: config.desk.closeAfterIdleMs, staleMs: 4 * waitMs };
}
