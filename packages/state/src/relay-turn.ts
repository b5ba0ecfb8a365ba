import type { Cluster, Redis } from 'ioredis';
import type { Customer } from './identity-map.js';
import type { StateKeys } from './keys.js';
import { type ActionRecord, actionArgs } from './reply-window.js';
import { type RelayScripts, relayScripts } from '@wxim/redis-scripts';
import type { Lease, PaceTurn } from './rate-gate.js';

export type Begun =
  | { turn: 'waiting' | 'absent' }
  | {
      turn: 'head';
      /** With no `agent`, the customer waits for one (see DeskPolicy) and nothing is relayed yet. */
      customer: Customer;
      /** When the job first tried to relay, ms on Redis's clock. */
      firstAttemptAt: number;
      /** The job's place in the store order of every line when it first tried (a Redis-side sequence, see ConversationLine). */
      place: number;
      /** The agent the job's first attempt went to; another `customer.agent` means the customer was handed on since (see imMessageIds). */
      firstAgent?: string;
      /** This turn recorded `firstAgent`: no earlier attempt of the job sent anything (see forgetFirstAgent). */
      firstAgentNew?: boolean;
      /** When the conversation's wait for an agent ended (ms, Redis's clock), if it waited: its messages could go no sooner. */
      waitEndedAt?: number;
      /**
       * The first IM call's turn, taken in the same step (see RelayTurn.begin): Redis's time (ms) it
       * was taken at, and this process's clock (performance.now()) when it was asked for: counted
       * from before the round trip, so that a process frozen meanwhile (its lock perhaps lost
       * since the check) sees the turn as old and asks again. When the pace had no room, its slot
       * is reserved instead: `slotAt` is when it comes on this process's clock (counted from the
       * answer, so never early), and the call then asks with 'start' (see RateGate.startReserved).
       */
      firstCall?: { at: number; askedAt: number; slotAt?: number };
    };

/** What a job's turn does about the customer's agent (see RelayTurn.begin). */
export type AssignMode = 'open' | 'attach' | 'none';

/** How the desk hands out conversations (AGENT_MAX_OPEN and when conversations close or stop waiting). */
export interface DeskPolicy {
  /** Open conversations an agent takes before new customers go to others or wait. */
  maxOpen: number;
  /** A conversation without a customer message this long closes (ms). */
  idleMs: number;
  /** A waiting customer whose job has not looked for an agent this long no longer holds a place (ms). */
  staleMs: number;
}

/** The start of a relay: whether it is the job's turn and, if so, who the customer is and who serves them. */
export class RelayTurn {
  private readonly redis: RelayScripts;
  private readonly jobKeyPrefix: string;

  constructor(
    private readonly raw: Redis | Cluster,
    private readonly keys: StateKeys,
    /** The queue of customers' pushes, whose lines these are. */
    private readonly queue: string,
    private readonly agents: readonly string[],
    private readonly desk: DeskPolicy,
    /** The keys of the other accounts that share the IM app (and so its agents): their waiting customers go first when they waited longer. */
    private readonly others: readonly StateKeys[] = [],
  ) {
    if (agents.length === 0) throw new Error('RelayTurn needs at least one agent');
    this.redis = relayScripts(raw);
    this.jobKeyPrefix = keys.jobs(queue);
  }

  /** The agent the customer's record names now (kept when their conversation closes); undefined when none was ever given. */
  async servingAgent(openid: string): Promise<string | undefined> {
    return (await this.raw.hget(this.keys.customer(openid), 'agent')) ?? undefined;
  }

  /**
   * For a customer's message that failed for good: when its job opened the customer's conversation,
   * its agent never got a word of it (the customer's later messages wait behind it), so the
   * conversation closes and frees its place (see RELEASE_UNREACHED). Resolves to the agent whose
   * place was freed, or undefined (another job opened it, it was handed on or closed meanwhile).
   */
  async releaseUnreached(openid: string, jobId: string): Promise<string | undefined> {
    const { keys } = this;
    const agent = await this.redis.wximDeskReleaseUnreached(
      keys.customer(openid),
      keys.agentLoad,
      keys.deskActive,
      keys.deskLoadsOwn,
      keys.carriedLoad,
      keys.carriedLoadsOwn,
      openid,
      this.jobKeyPrefix + jobId,
    );
    return agent ?? undefined;
  }

  /**
   * Forgets `agent` as the job's first agent, while the job still holds its lock (`lease`): for a job
   * whose turn recorded them (Begun.firstAgentNew) and which found the customer handed on before
   * it sent anything, so its next turn records the new agent as its first, and the message goes
   * to them as a first send, not as a retry whose earlier agent may hold it. False when the lock
   * or the agent recorded is not the one given (nothing changed).
   */
  async forgetFirstAgent(jobId: string, agent: string, lease: Lease): Promise<boolean> {
    return (await this.redis.wximRelayForgetFirstAgent(this.keys.relayIds(jobId), lease.lockKey, lease.token, agent)) === 1;
  }

  /**
   * `assign`: `open` for a customer's message (it opens or continues a conversation, or waits);
   * `attach` for an event (to an agent, opening no conversation, never waiting); `none` for an unfollow.
   * `action`: the customer's action the job carries, recorded in their reply window (as
   * ReplyWindow.record) in the same step when the job is at the head of its line, before the desk
   * is asked: the customer did act, whether or not the message can go yet.
   * `firstCall`: the turn of the job's first IM call (RateGate.turnOf), taken in the same step when
   * the customer is known to IM (so that call is the message, no import first): when the pace lets
   * it start now, the caller makes the call at once, without asking again; otherwise its slot is
   * reserved, and the call waits for it and asks only once more (RateGate.startReserved).
   */
  async begin(openid: string, jobId: string, assign: AssignMode, action?: ActionRecord, firstCall?: PaceTurn): Promise<Begun> {
    const a = action === undefined ? undefined : actionArgs(action);
    const line = this.keys.line(this.queue, openid);
    const askedAt = performance.now();
    const [turn, userId, imported, agent, first, place, callWaitUs, nowUs, firstAgent, recorded, waitEndedAt] = await this.redis.wximRelayBegin(
      18 + 3 * this.others.length,
      line,
      this.keys.customer(openid),
      this.keys.agentLoad,
      this.keys.relayIds(jobId),
      this.keys.earlierFirstAttempt(jobId),
      this.keys.agentState,
      this.keys.deskWaiting,
      this.keys.deskWaitingSeen,
      this.keys.deskActive,
      this.keys.agentLastAssigned,
      this.keys.deskLoadsOwn,
      this.keys.replyWindow(openid),
      this.keys.recentCustomers,
      // Keys in the line's slot (on a cluster) when no call's turn is taken.
      ...(firstCall?.keys ?? [line, line, line]),
      this.keys.carriedLoad,
      this.keys.carriedLoadsOwn,
      ...this.others.flatMap((o) => [o.deskWaiting, o.deskWaitingSeen, o.deskActive]),
      this.jobKeyPrefix,
      jobId,
      assign,
      this.keys.customer(''),
      String(this.desk.maxOpen),
      String(this.desk.idleMs),
      String(this.desk.staleMs),
      openid,
      a?.at ?? '',
      String(a?.replies ?? ''),
      String(a?.periodMs ?? ''),
      String(a?.marginMs ?? ''),
      String(a?.recentMs ?? ''),
      a?.id ?? '',
      ...(firstCall?.args ?? ['', '', '', '', '']),
      ...this.agents,
    );
    const answeredAt = performance.now();
    if (turn !== 'head') return { turn: turn as 'waiting' | 'absent' };
    const waitUs = Number(callWaitUs);
    const at = Math.floor(Number(nowUs) / 1000);
    return {
      turn,
      customer: { ...(userId ? { userId } : {}), imported: imported === '1', ...(agent ? { agent } : {}) },
      firstAttemptAt: Number(first),
      place: Number(place),
      ...(firstAgent ? { firstAgent } : {}),
      ...(recorded === 1 ? { firstAgentNew: true } : {}),
      ...(waitEndedAt ? { waitEndedAt: Number(waitEndedAt) } : {}),
      ...(waitUs === 0 ? { firstCall: { at, askedAt } } : {}),
      ...(waitUs > 0 ? { firstCall: { at, askedAt, slotAt: answeredAt + waitUs / 1000 } } : {}),
    };
  }
}
