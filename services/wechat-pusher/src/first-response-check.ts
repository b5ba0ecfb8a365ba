import { ImError, type ImClient, ImNotImportedError, ImPermanentError, encodeRelayCustomData, textElem } from '@wxim/im';
import type { FleetLock, HeldLock, RateScope, StateKeys } from '@wxim/state';
import { MOVE_TTL_S, relayScripts } from '@wxim/redis-scripts';
import type { Cluster, Redis } from 'ioredis';
import { FleetCheck } from '@wxim/host';
import { QUEUES } from '@wxim/queue';
import { noticeIds } from './notice.js';
import type { ServiceLevels } from './service-levels.js';

/** A move's record lives as long as SLA_MOVE sets it to: marking a notice told renews that. */
const MOVE_RECORD_TTL_MS = MOVE_TTL_S * 1000;

/** How many overdue conversations one check takes up: the rest wait for the next. */
const BATCH = 100;

export interface FirstResponseCheckDeps {
  /** Counts each check run here (see FleetCheckOptions.ran). */
  ran?: (outcome: 'done' | 'failed') => void;
  redis: Redis | Cluster;
  keys: StateKeys;
  im: ImClient;
  /** IM_AGENTS. */
  agents: readonly string[];
  /** AGENT_MAX_OPEN: an agent at it takes no moved conversation. */
  maxOpen: number;
  /** FIRST_RESPONSE_SLA_S, in ms. */
  slaMs: number;
  /** How often an instance looks whether a check is due. */
  everyMs: number;
  /** The fleet's one check at a time. */
  lock: FleetLock;
  /** The conversation so far between the customer's IM account and an agent, for the agent taking over. */
  history: (userId: string, agent: string) => Promise<string[]>;
  /** An IM call's turn under the fleet's pace. */
  turn: (scope: RateScope) => Promise<number>;
  levels: Pick<ServiceLevels, 'transferred' | 'exhaustedMoves'>;
  log: { warn(o: object, m: string): void };
}

/**
 * FIRST_RESPONSE_SLA_S: a customer whose message has waited that long for an answer from their
 * agent is handed to the least busy other agent online with room, as `/transfer` alone would, and
 * both agents are told. The im-worker records when a customer's message became unanswered, the
 * pusher clears it when it delivers a reply from the serving agent; here one instance of the fleet
 * at a time looks for the overdue ones. A customer whose agent's reply is on its way (in its undo
 * time, retried, or behind other replies) is not moved: the reply answers them once delivered. The move is one script per move id (the customer and since
 * when they wait), so a move happens once; its notices are owed until sent, so a crash between
 * the move and the notices leaves them to the next check, each notice told once (marked in the
 * move's record). One move's notices that IM fails never hold up the others' or the check's moves:
 * IM refusing them for good (an account gone, the customer having unfollowed meanwhile; a text it
 * will never take) owes them no more; a failure that may pass (IM busy or unreachable) leaves them
 * owed, for the next check. With nobody else free nothing moves and nobody is told: the next check tries again.
 */
export class FirstResponseCheck extends FleetCheck<number> {
  constructor(private readonly deps: FirstResponseCheckDeps) {
    super({ everyMs: deps.everyMs, lock: deps.lock, what: 'the first-response check', log: deps.log, ...(deps.ran === undefined ? {} : { ran: deps.ran }) });
  }

  /** The conversations moved now. */
  protected async check(held: HeldLock): Promise<number> {
    const { redis, keys } = this.deps;
    // Moves made before a crash cut their notices first: the agents have not heard of them.
    for (const moveId of await redis.zrange(keys.deskSlaMovesOwed, 0, BATCH - 1)) {
      await held.keep();
      await this.tellOrOwe(moveId);
    }
    const due = await redis.zrangebyscore(keys.deskUnanswered, '-inf', Date.now() - this.deps.slaMs, 'WITHSCORES', 'LIMIT', 0, BATCH);
    let moved = 0;
    for (let i = 0; i < due.length; i += 2) {
      await held.keep();
      if (await this.move(due[i]!, due[i + 1]!)) moved++;
    }
    return moved;
  }

  /** Moves the customer's conversation if their message is still unanswered past the SLA: whether it moved. */
  private async move(openid: string, since: string): Promise<boolean> {
    const { redis, keys, agents } = this.deps;
    const moveId = `${openid}:${since}`;
    const [outcome, , , fresh] = await relayScripts(redis).wximDeskSlaMove(
      keys.customer(openid),
      keys.agentLoad,
      keys.agentState,
      keys.deskActive,
      keys.agentLastAssigned,
      keys.deskUnanswered,
      keys.deskSlaMovesOwed,
      keys.deskSlaMove(moveId),
      keys.deskLoadsOwn,
      keys.carriedLoad,
      keys.carriedLoadsOwn,
      keys.line(QUEUES.agentReplies, openid),
      openid,
      since,
      moveId,
      String(this.deps.slaMs),
      String(this.deps.maxOpen),
      keys.jobs(QUEUES.agentReplies),
      ...agents,
    );
    if (outcome === 'exhausted') {
      this.deps.levels.exhaustedMoves();
      this.deps.log.warn(
        { openid, since },
        'a first answer is overdue, and every other agent has had this conversation: it stays with its agent, moved no more for this message',
      );
    }
    if (outcome !== 'moved') return false;
    if (fresh === 'new') this.deps.levels.transferred('sla');
    await this.tellOrOwe(moveId);
    return true;
  }

  /** Tells of the move; an IM failure is logged and leaves the move owed, unless IM refused for good. Redis's failures stop the check. */
  private async tellOrOwe(moveId: string): Promise<void> {
    try {
      await this.tell(moveId);
    } catch (err) {
      if (!(err instanceof ImError)) throw err;
      const refused = err instanceof ImNotImportedError || err instanceof ImPermanentError;
      // IM's errors never carry the URL (its UserSig); neither does this line.
      this.deps.log.warn(
        { moveId, code: err.code, reason: err.message },
        refused
          ? 'IM refused a notice of a first-response move for good (an account gone, or a text it will not take): the agents are not told of it'
          : 'a notice of a first-response move could not be sent; the next check tries again',
      );
      if (refused) await this.deps.redis.zrem(this.deps.keys.deskSlaMovesOwed, moveId);
    }
  }

  /** Tells both agents of a move (the new one with the conversation so far), then owes it no more. */
  private async tell(moveId: string): Promise<void> {
    const { redis, keys } = this.deps;
    const record = keys.deskSlaMove(moveId);
    const { to, from, openid, ...told } = await redis.hgetall(record);
    const userId = openid === undefined ? null : await redis.hget(keys.customer(openid), 'userId');
    if (to !== undefined && from !== undefined && userId !== null) {
      const waited = `waited over ${Math.round(this.deps.slaMs / 1000)} s for an answer`;
      // Each once, marked in the move's record: the history read again would make a new text, which IM would not drop.
      // One IM refuses for good (a quoted customer text it will not take) is left, and the other still goes.
      const once = async (purpose: string, agent: string, text: () => Promise<string>) => {
        if (told[`told:${purpose}`] !== undefined) return;
        // Made before the send: only IM's answer to the notice itself is a refusal of it.
        const said = await text();
        try {
          await this.notice(moveId, purpose, userId, agent, said);
        } catch (err) {
          if (!(err instanceof ImPermanentError)) throw err;
          this.deps.log.warn({ moveId, purpose, code: err.code, reason: err.message }, 'IM refused a notice of a first-response move for good: it is not sent');
        }
        // Only while the record lives: one that expired meanwhile is not brought back without a lifetime.
        await relayScripts(redis).wximHsetIfKept(record, `told:${purpose}`, '1', MOVE_RECORD_TTL_MS);
      };
      await once('sla-to', to, async () => {
        const history = await this.historyOrNone(moveId, userId, from);
        return `↪ Relay notice — this customer ${waited} from ${from}, so the relay handed them to you.${
          history.length > 0 ? ` The conversation so far:\n${history.join('\n')}` : ''
        }`;
      });
      // An agent no longer of IM_AGENTS (moved from after a redeploy) is not told: nobody watches there.
      if (this.deps.agents.includes(from))
        await once(
          'sla-from',
          from,
          async () =>
            `⏱ Relay notice — this customer ${waited}, so the relay handed them to ${to}. Your replies to this customer from now on are not delivered.`,
        );
    }
    await redis.zrem(keys.deskSlaMovesOwed, moveId);
  }

  /** The conversation so far, or none when IM refuses it for good (the old agent's account gone): the new agent is told all the same. */
  private async historyOrNone(moveId: string, userId: string, from: string): Promise<string[]> {
    try {
      return await this.deps.history(userId, from);
    } catch (err) {
      if (!(err instanceof ImPermanentError || err instanceof ImNotImportedError)) throw err;
      this.deps.log.warn({ moveId, code: err.code, reason: err.message }, "IM refused the conversation's history for good: the notice goes without it");
      return [];
    }
  }

  private async notice(moveId: string, purpose: string, userId: string, agent: string, text: string): Promise<void> {
    await this.deps.im.sendC2C(
      {
        from: userId,
        to: agent,
        // Fixed per move and purpose: a notice sent again after a crash is dropped by IM.
        ...noticeIds(`${moveId}:${purpose}`),
        body: [textElem(text)],
        cloudCustomData: encodeRelayCustomData({ source: 'relay-notice', replyTo: '', reason: purpose }),
      },
      { beforeSend: async (command) => (await this.deps.turn({ platform: 'im', command })) >= 0 },
    );
  }
}
