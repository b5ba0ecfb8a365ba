import type { ImClient } from '@wxim/im';
import { type DeskPresence, type FleetLock, type StateKeys, isOnline, storedAgentState } from '@wxim/state';
import type { Cluster, Redis } from 'ioredis';

/** How often the fleet asks IM who of its agents is online (one call per 500 agents). */
export const PRESENCE_SYNC_MS = 60_000;

/** query_online_status takes at most this many accounts a call. */
const PER_CALL = 500;

/**
 * A correction is dated this long before IM was asked: IM dates its callbacks by its own clock,
 * and a later change's callback must win over the look even when the relay's clock runs ahead by
 * a few seconds. A state younger than this is put right by the next look.
 */
export const LOOK_DATED_BACK_MS = 5000;

export interface PresenceSyncDeps {
  im: Pick<ImClient, 'onlineStatus'>;
  /** Waits for the call's turn under the fleet's pace of its command. */
  turn: (command: string) => Promise<unknown>;
  presence: Pick<DeskPresence, 'record' | 'wakeWaiting'>;
  redis: Redis | Cluster;
  keys: StateKeys;
  agents: readonly string[];
  /** Held for a period and never released: one look per period in the fleet, whichever instance takes it. */
  lock: FleetLock;
  /** 0: no looks. */
  periodMs: number;
  maxOpen: number;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

/**
 * The agents' states as IM sees them, every period: what State.StateChange callbacks say, put
 * right where they were lost (im-callback down or unreachable when an agent logged in or out, the
 * callback switched off in the console) or misleading (a Logout skipped because IM had the agent
 * online elsewhere, then that device dropped too). An agent IM has `Online` whom the relay holds
 * offline is recorded logged in (and the customers waiting look at once); one IM has `Offline`
 * whom the relay holds online (or never heard of) is recorded logged out. `PushOnline` (an app in
 * the background) changes nothing. Dated LOOK_DATED_BACK_MS before IM was asked, so the callback
 * of a later change wins over the look. The first look comes at start (when callbacks are likeliest
 * to have been lost), then one a period.
 */
export class PresenceSync {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly deps: PresenceSyncDeps) {}

  start(): void {
    if (this.deps.periodMs === 0) return;
    const look = () => {
      this.running ??= this.syncOnce()
        .catch((err: Error) => this.deps.log.warn({ reason: err.message }, "could not compare the agents' states with IM's; tried again next period"))
        .finally(() => (this.running = undefined));
    };
    look();
    this.timer = setInterval(look, this.deps.periodMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One look, if no other instance took this period's: resolves to the agents whose state it changed. */
  async syncOnce(): Promise<string[]> {
    const { im, turn, presence, redis, keys, agents, log } = this.deps;
    if ((await this.deps.lock.take()) === undefined) return [];
    const changed: string[] = [];
    let cameOnline = 0;
    try {
      for (let i = 0; i < agents.length; i += PER_CALL) {
        const chunk = agents.slice(i, i + PER_CALL);
        const asked = Date.now() - LOOK_DATED_BACK_MS;
        const status = await im.onlineStatus(chunk, { beforeSend: async (command) => (await turn(command), true) });
        if (status === undefined) continue;
        const stored = await redis.hmget(keys.agentState, ...chunk);
        for (const [j, agent] of chunk.entries()) {
          const online = isOnline(storedAgentState(stored[j]));
          const seen = status.get(agent);
          const action = seen === 'Online' && !online ? 'Login' : seen === 'Offline' && online ? 'Logout' : undefined;
          if (action === undefined || !(await presence.record(agent, { action, eventTime: asked }))) continue;
          changed.push(agent);
          if (action === 'Login') cameOnline++;
          log.info({ agent, action }, "an agent's state put right from IM's (its callback was lost, or a device dropped unseen)");
        }
      }
    } finally {
      // As many as the agents who came online can take (a Login's callback wakes as many for one).
      if (cameOnline > 0) await presence.wakeWaiting(this.deps.maxOpen * cameOnline);
    }
    return changed;
  }
}
