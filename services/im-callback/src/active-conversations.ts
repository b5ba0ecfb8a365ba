import { type ImClient, ImError, ImNotImportedError, ImPermanentError } from '@wxim/im';
import type { StateKeys } from '@wxim/state';
import type { Redis, Cluster } from 'ioredis';
import { type Customer, HORIZON_MS } from './history-scan.js';
import { withTries } from './im-tries.js';

export interface ActiveDeps {
  redis: Redis | Cluster;
  keys: StateKeys;
  im: ImClient;
  agents: readonly string[];
  /** Waits for one IM call's turn (the recovery's share of the command's pace). */
  turn: (command: string) => Promise<unknown>;
  log: { warn(o: object, m: string): void };
}

export interface Active {
  customers: Customer[];
  /**
   * Whether every agent's conversation list reached back past `since`: then it holds every
   * conversation with a message since. A list of 100 or more whose every entry is newer may have
   * lost older ones to IM's cap (the latest 100 on the default edition), or a list could not be
   * read (an agent IM has no account for has none to read, and leaves the lists complete).
   */
  complete: boolean;
  /**
   * The agents whose lists may have lost conversations to IM's cap (they went through more than it
   * holds since `since`), or could not be read (IM kept failing for that list while it answered
   * others): their conversations with everyone who could have had a reply are to be read.
   */
  capped: string[];
  /** IM refused an agent's conversation list (a code not "no such account"): the first such answer, if any. */
  refused?: { agent: string; code: number };
}

/** How many conversations IM keeps in an account's list on its default edition (more on others). */
const LIST_CAP = 100;

/** A conversation list IM answered with a transient error is asked for this many times. */
const TRIES = 3;

/**
 * The customers whose conversations had something happen since a time. Three sources, each
 * catching what the others may not:
 * - customers who wrote (their agent was assigned then): the relay recorded it;
 * - customers an agent's reply was stored for (the agent is at work there): the relay recorded it;
 * - every conversation in each agent's conversation list (IM's recentcontact/get_list) whose latest
 *   message is that recent: the one source that shows a conversation where only an agent wrote,
 *   and whose callback never came — the customer's own agent or another.
 */
export class ActiveConversations {
  constructor(private readonly deps: ActiveDeps) {}

  /** The customers (openids), each with the other agents whose lists showed them; `keepGoing` runs before each agent's list. */
  async since(since: number, keepGoing: () => Promise<void> = async () => {}): Promise<Active> {
    const { redis, keys } = this.deps;
    const [wrote, replied, listed] = await Promise.all([
      redis.zrangebyscore(keys.recentCustomers, since, '+inf'),
      redis.zrangebyscore(keys.repliedCustomers, since, '+inf'),
      this.listedPeers(since, keepGoing),
    ]);
    const customers = new Map<string, Set<string>>([...wrote, ...replied].map((openid) => [openid, new Set()]));
    const ids = [...listed.peers.keys()];
    for (let i = 0; i < ids.length; i += 500) {
      const openids = await redis.hmget(keys.openidOf, ...ids.slice(i, i + 500));
      openids.forEach((openid, j) => {
        if (openid === null) return;
        const agents = customers.get(openid) ?? new Set();
        for (const agent of listed.peers.get(ids[i + j]!) ?? []) agents.add(agent);
        customers.set(openid, agents);
      });
    }
    return {
      customers: [...customers].map(([openid, otherAgents]) => ({ openid, otherAgents })),
      complete: listed.complete,
      capped: listed.capped,
      ...(listed.refused === undefined ? {} : { refused: listed.refused }),
    };
  }

  /**
   * Everyone who could have had a reply by now: each customer who wrote within WeChat's 48 hours
   * (`HORIZON_MS` before `now`), to be read with their own agent and `agents` (those whose lists
   * may have lost conversations). For a look whose conversation lists could not show everything.
   */
  async everyone(now: number, agents: readonly string[]): Promise<Customer[]> {
    const openids = await this.deps.redis.zrangebyscore(this.deps.keys.recentCustomers, now - HORIZON_MS, '+inf');
    return openids.map((openid) => ({ openid, otherAgents: agents }));
  }

  /** The IM accounts agents exchanged a message with since `since`, from their conversation lists: account → those agents. */
  private async listedPeers(
    since: number,
    keepGoing: () => Promise<void>,
  ): Promise<{ peers: Map<string, Set<string>>; complete: boolean; capped: string[]; refused?: { agent: string; code: number } }> {
    const peers = new Map<string, Set<string>>();
    const capped: string[] = [];
    let refused: { agent: string; code: number } | undefined;
    // Lists IM kept failing for: with none read yet, the second such (or the only agent's) is IM
    // down, and the look fails as a whole; one among lists that answer is read around, as a capped one.
    let read = 0;
    let failed = 0;
    let firstFailure: Error | undefined;
    for (const agent of this.deps.agents) {
      await keepGoing();
      const list = await this.listOf(agent);
      if (list === undefined) continue; // no IM account: no conversation to miss
      if (list instanceof Error) {
        firstFailure ??= list;
        if (read === 0 && (++failed >= 2 || this.deps.agents.length === 1)) throw list;
        this.deps.log.warn(
          { agent, reason: list.message },
          "IM kept failing for an agent's conversation list: that agent's conversation with every customer who wrote in the last 48 hours is read instead",
        );
        capped.push(agent);
        continue;
      }
      if (!Array.isArray(list)) {
        refused ??= { agent, code: list.refused };
        continue;
      }
      read++;
      // IM's clock counts seconds: a second of margin.
      const recent = list.filter((c) => c.msgTime * 1000 >= since - 1000);
      // Every entry newer, and as many as IM's smallest cap holds: older ones may have been dropped.
      // A shorter list is the agent's every conversation.
      if (recent.length === list.length && list.length >= LIST_CAP) capped.push(agent);
      for (const c of recent) if (!this.deps.agents.includes(c.peer)) peers.set(c.peer, (peers.get(c.peer) ?? new Set()).add(agent));
    }
    // No list read at all (the others had no account, or were refused): IM down all the same.
    if (read === 0 && firstFailure !== undefined) throw firstFailure;
    return { peers, complete: capped.length === 0 && refused === undefined, capped, ...(refused === undefined ? {} : { refused }) };
  }

  /**
   * One agent's list (each agent apart: one refusal does not hide the others); undefined for an
   * agent IM has no account for, IM's code when it refused the list otherwise, IM's error when it
   * kept failing for it (busy, over its limit, out of time) on every try.
   */
  private async listOf(agent: string): Promise<{ peer: string; msgTime: number }[] | { refused: number } | ImError | undefined> {
    const options = { beforeSend: async (command: string) => (await this.deps.turn(command), true) };
    try {
      return await withTries(TRIES, async () => {
        const list: { peer: string; msgTime: number }[] = [];
        for await (const page of this.deps.im.recentContacts(agent, options)) list.push(...page);
        return list;
      });
    } catch (err) {
      if (err instanceof ImNotImportedError) {
        this.deps.log.warn({ agent }, 'an agent of IM_AGENTS is not an IM account: its conversation list is skipped');
        return undefined;
      }
      if (err instanceof ImError && !(err instanceof ImPermanentError)) return err;
      if (!(err instanceof ImPermanentError)) throw err;
      // Whether it passes (a code of IM's not known here) or lasts (an edition without lists) is for its caller to judge.
      return { refused: err.code };
    }
  }
}
