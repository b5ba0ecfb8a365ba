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

/**
 * The desk's side of presence: agents' login states, and the customers waiting for an agent.
 * Whoever frees a place (an agent logging in, a conversation closing or moving) wakes the jobs of
 * the customers waiting longest, so they look for an agent at once rather than at their next look.
 */
export class DeskPresence {
  private readonly wake: (jobId: string) => Promise<boolean>;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: StateKeys,
    /** The (hash-tagged) key prefix of the queues: the customers' pushes (wechat-inbound) are woken. */
    prefix: string,
  ) {
    this.wake = wakeToFront(redis, queueLayout(prefix, QUEUES.wechatInbound));
  }

  /** Stores an agent's state unless a newer one is stored; resolves true when it was stored. */
  async record(agent: string, state: AgentState): Promise<boolean> {
    const at = state.eventTime === undefined ? '' : String(state.eventTime);
    return (await relayScripts(this.redis).wximRecordAgentState(this.keys.agentState, agent, JSON.stringify(state), at)) === 1;
  }

  /** Wakes the first jobs of the `count` customers waiting longest; resolves to how many were asleep. */
  async wakeWaiting(count: number): Promise<number> {
    const openids = await this.redis.zrange(this.keys.deskWaiting, 0, count - 1);
    let woken = 0;
    for (const openid of openids) {
      const [head] = await this.redis.zrange(this.keys.line(QUEUES.wechatInbound, openid), 0, 0);
      if (head !== undefined && (await this.wake(head))) woken++;
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
