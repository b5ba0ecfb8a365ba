import type { StateKeys } from '@wxim/state';
import { relayScripts } from '@wxim/redis-scripts';
import type { Cluster, Redis } from 'ioredis';
import type { Counter, Histogram } from 'prom-client';

/** Why a conversation changed hands: an agent's /transfer, or a first answer overdue (FIRST_RESPONSE_SLA_S). */
export type TransferCause = 'command' | 'sla';

export interface ServiceLevelDeps {
  redis: Redis | Cluster;
  keys: StateKeys;
  firstResponse: Histogram;
  resolution: Histogram;
  transfers: Counter<'cause'>;
  /** First answers overdue that no other agent could take: each had the conversation before. */
  exhausted: Counter;
}

/**
 * The desk's service levels at the moments the pusher sees: a reply delivered from the agent
 * serving the customer (the conversation's first answer, and the customer no longer waiting for
 * one), a /close (how long the conversation took), and a hand-over. The times come from the
 * customer's record in Redis, so each is observed once however many pushers there are; a crash
 * between the record and the metric loses one observation, never doubles one.
 */
export class ServiceLevels {
  constructor(private readonly deps: ServiceLevelDeps) {}

  /** A reply `agent` sent at `sentAtMs` (IM's MsgTime) reached the customer. */
  async answered(openid: string, agent: string, sentAtMs: number): Promise<void> {
    const { redis, keys } = this.deps;
    const ms = await relayScripts(redis).wximDeskAnswered(keys.customer(openid), keys.deskUnanswered, openid, agent, Math.floor(sentAtMs).toFixed(0));
    if (ms >= 0) this.deps.firstResponse.observe(ms / 1000);
  }

  /** The customer's agent closed the conversation, `ms` after it opened (-1: its start is not known). */
  resolved(ms: number): void {
    if (ms >= 0) this.deps.resolution.observe(ms / 1000);
  }

  /** A conversation was handed to another agent. */
  transferred(cause: TransferCause): void {
    this.deps.transfers.inc({ cause });
  }

  /** A first answer is overdue, and every other agent has had the conversation: it is moved no more for this message. */
  exhaustedMoves(): void {
    this.deps.exhausted.inc();
  }
}
