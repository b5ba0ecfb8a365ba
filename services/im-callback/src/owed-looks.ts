import type { StateKeys } from '@wxim/state';
import type { Redis, Cluster } from 'ioredis';
import type { Customer } from './history-scan.js';

/** At most this many owed conversations join one look (the oldest first); the rest wait for the next. */
const AT_MOST = 10_000;

/**
 * Conversations a look at IM's history failed for (IM kept answering errors for them), each owed
 * a look from the start of the range it missed. The next look — a sweep or a gap's recovery —
 * takes them up with its own conversations, so one conversation IM fails for never holds back the
 * others, and none is forgotten.
 *
 * An owed look reads every agent's conversation with the customer (IM_AGENTS), not only their
 * own agent's: the look that failed may have been for another agent's reply, found through that
 * agent's conversation list, which a later look (from more than MARGIN_MS after the reply) no
 * longer shows. Owed looks are rare; reading every agent's keeps such a reply from being lost.
 */
export class OwedLooks {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: StateKeys,
    /** IM_AGENTS: every agent whose conversation with an owed customer is read. */
    private readonly agents: readonly string[],
  ) {}

  async all(): Promise<Customer[]> {
    const flat = await this.redis.zrange(this.keys.callbackOwed, 0, AT_MOST - 1, 'WITHSCORES');
    const owed: Customer[] = [];
    for (let i = 0; i < flat.length; i += 2) owed.push({ openid: flat[i]!, from: Number(flat[i + 1]), otherAgents: this.agents });
    return owed;
  }

  /** When the oldest owed look begins (ms), if one is owed. */
  async oldest(): Promise<number | undefined> {
    const [, score] = await this.redis.zrange(this.keys.callbackOwed, 0, 0, 'WITHSCORES');
    return score === undefined ? undefined : Number(score);
  }

  /** After a look: the owed conversations it took up are settled, those it failed for are owed (from the earliest time each missed). */
  async settle(taken: readonly Customer[], failed: readonly { openid: string; from: number }[]): Promise<void> {
    if (taken.length === 0 && failed.length === 0) return;
    const transaction = this.redis.multi();
    if (taken.length > 0) transaction.zrem(this.keys.callbackOwed, ...taken.map((c) => c.openid));
    for (const f of failed) transaction.zadd(this.keys.callbackOwed, 'LT', f.from, f.openid);
    await transaction.exec();
  }
}

/** One list of customers to look through: each once, from the earliest time any source owes them, with every agent any source names. */
export function merged(...lists: readonly (readonly Customer[])[]): Customer[] {
  const byOpenid = new Map<string, { from?: number; otherAgents: Set<string> }>();
  for (const c of lists.flat()) {
    const seen = byOpenid.get(c.openid) ?? { otherAgents: new Set<string>() };
    if (c.from !== undefined) seen.from = Math.min(seen.from ?? c.from, c.from);
    for (const a of c.otherAgents ?? []) seen.otherAgents.add(a);
    byOpenid.set(c.openid, seen);
  }
  return [...byOpenid].map(([openid, c]) => ({ openid, otherAgents: c.otherAgents, ...(c.from === undefined ? {} : { from: c.from }) }));
}
