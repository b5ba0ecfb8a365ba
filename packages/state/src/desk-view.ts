import type { RedisClient } from '@wxim/queue';
import { isOnline, storedAgentState } from './desk-presence.js';
import type { StateKeys } from './keys.js';

/** One agent as the desk sees them. */
export interface DeskAgent {
  agent: string;
  /** The latest State.StateChange im-callback recorded (Login, Logout, Disconnect); absent when IM has sent none. */
  action?: string;
  /** Whether the desk gives them customers by that state (never heard of counts as online). */
  online: boolean;
  /** Their open conversations. */
  open: number;
}

/** A customer waiting for an agent online with room. */
export interface DeskWaiter {
  openid: string;
  /** When they began to wait (ms). */
  since: number;
}

export interface Desk {
  agents: DeskAgent[];
  /** The customers waiting longest first, at most `shown` of them. */
  waiting: DeskWaiter[];
  /** How many wait in all. */
  waitingCount: number;
}

/**
 * The service desk as the relay keeps it in Redis: each agent's recorded state and open
 * conversations, and the customers waiting — what the desk routes by, for the sandbox page and
 * the dashboard's desk page.
 */
export class DeskView {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
    private readonly agents: readonly string[],
    /** How many waiting customers are named: the rest are counted. */
    private readonly shown = 20,
  ) {}

  async read(): Promise<Desk> {
    const { keys, agents } = this;
    const [states, loads, waiting, waitingCount] = await Promise.all([
      agents.length === 0 ? Promise.resolve([]) : this.redis.hmget(keys.agentState, ...agents),
      this.redis.zrange(keys.agentLoad, 0, -1, 'WITHSCORES'),
      this.redis.zrange(keys.deskWaiting, 0, this.shown - 1, 'WITHSCORES'),
      this.redis.zcard(keys.deskWaiting),
    ]);
    const open = new Map(pairs(loads).map(([agent, count]) => [agent, Math.max(0, Number(count))]));
    return {
      agents: agents.map((agent, i) => {
        const state = storedAgentState(states[i]);
        return { agent, ...(state === undefined ? {} : { action: state.action }), online: isOnline(state), open: open.get(agent) ?? 0 };
      }),
      waiting: pairs(waiting).map(([openid, since]) => ({ openid, since: Number(since) })),
      waitingCount,
    };
  }
}

/** A WITHSCORES reply as [member, score] pairs. */
function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}
