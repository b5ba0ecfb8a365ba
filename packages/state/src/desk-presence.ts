import type { Cluster, Redis } from 'ioredis';
import { relayScripts } from '@wxim/redis-scripts';
import type { StateKeys } from './keys.js';
import { QUEUES, queueLayout } from '@wxim/queue';
import { wakeToFront } from './wake-to-front.js';

/** An agent's login state as IM's State.StateChange reports it. */
export interface AgentState {
  action: string;
  /** When IM saw it (ms), if IM said. */
  eventTime?: number;
}

/** How many waiting customers past those a freed place is for a wake looks at, when some of those do not sleep. */
const LOOK_FURTHER = 10;

/** An account's desk: its keys and the key prefix of its queues (whose wechat-inbound jobs are woken). */
export interface AccountDesk {
  keys: StateKeys;
  prefix: string;
}

/**
 * The desk's side of presence: agents' login states, and the customers waiting for an agent.
 * Whoever frees a place (an agent logging in, a conversation closing or moving) wakes the jobs of
 * the customers waiting longest, so they look for an agent at once rather than at their next look.
 * Accounts that share an IM app share its agents' places: those waiting longest in any of them.
 */
export class DeskPresence {
  private readonly desks: { waiting: string; line: (openid: string) => string; jobs: string; wake: (jobId: string) => Promise<boolean> }[];

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: StateKeys,
    /** The (hash-tagged) key prefix of the queues: the customers' pushes (wechat-inbound) are woken. */
    prefix: string,
    /** The other accounts that share this account's IM app (ACCOUNTS_FILE), on the same Redis. */
    others: readonly AccountDesk[] = [],
  ) {
    this.desks = [{ keys, prefix }, ...others].map((d) => ({
      waiting: d.keys.deskWaiting,
      line: (openid: string) => d.keys.line(QUEUES.wechatInbound, openid),
      jobs: d.keys.jobs(QUEUES.wechatInbound),
      wake: wakeToFront(redis, queueLayout(d.prefix, QUEUES.wechatInbound)),
    }));
  }

  /** Stores an agent's state unless a newer one is stored; resolves true when it was stored. */
  async record(agent: string, state: AgentState): Promise<boolean> {
    const at = state.eventTime === undefined ? '' : String(state.eventTime);
    return (await relayScripts(this.redis).wximRecordAgentState(this.keys.agentState, agent, JSON.stringify(state), at)) === 1;
  }

  /**
   * Wakes the first jobs of the `count` customers waiting longest whose jobs sleep (one whose job
   * is awake looks by itself; one whose job is gone holds no place), looking up to LOOK_FURTHER
   * customers further; resolves to how many were woken.
   */
  async wakeWaiting(count: number): Promise<number> {
    const waiting = await Promise.all(
      this.desks.map(async (desk) => {
        const scored = await this.redis.zrange(desk.waiting, 0, count + LOOK_FURTHER - 1, 'WITHSCORES');
        return Array.from({ length: scored.length / 2 }, (_, i) => ({ desk, openid: scored[2 * i]!, since: Number(scored[2 * i + 1]) }));
      }),
    );
    let woken = 0;
    for (const { desk, openid } of waiting.flat().sort((a, b) => a.since - b.since)) {
      if (woken === count) break;
      // The line's live head: a finished job left at its front (its leaving lost in a crash) is passed over.
      const head = (await relayScripts(this.redis).wximLineHead(desk.line(openid), desk.jobs)) ?? undefined;
      if (head !== undefined && (await desk.wake(head))) woken++;
    }
    return woken;
  }
}

/** An agent's state as im-callback stored it (JSON in `agentState`); nothing, or something unreadable, is no state. */
export function storedAgentState(stored: string | null | undefined): AgentState | undefined {
  if (stored === null || stored === undefined) return undefined;
  try {
    const state = JSON.parse(stored) as Partial<AgentState> | null;
    return typeof state?.action === 'string'
      ? { action: state.action, ...(typeof state.eventTime === 'number' ? { eventTime: state.eventTime } : {}) }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether an agent's latest state leaves them online, as the desk routes by it: an agent never
 * heard of counts as online (IM sends the state only when it changes).
 */
export function isOnline(state: AgentState | undefined): boolean {
  return state === undefined || (state.action !== 'Logout' && state.action !== 'Disconnect');
}
