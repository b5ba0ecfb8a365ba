import { type ImClient, ImPermanentError } from '@wxim/im';
import type { StateKeys } from '@wxim/relay';
import type { Redis, Cluster } from 'ioredis';
import type { Customer } from './history-scan.js';

export interface ActiveDeps {
  redis: Redis | Cluster;
  keys: StateKeys;
  im: ImClient;
  agents: readonly string[];
  /** Waits for one IM call's turn (the recovery's share of the command's pace). */
  turn: (command: string) => Promise<unknown>;
  log: { warn(o: object, m: string): void };
}

/**
 * The customers whose conversations had something happen since a time: the sweep looks through
 * their history. Three sources, each catching what the others may not:
 * - customers who wrote (their agent was assigned then): the relay recorded it;
 * - customers an agent's reply was stored for (the agent is at work there): the relay recorded it;
 * - every conversation in each agent's conversation list (IM's recentcontact/get_list) whose latest
 *   message is that recent: the one source that shows a conversation where only the agent wrote,
 *   and whose callback never came. IM keeps an account's latest conversations only (100 on the
 *   default edition), which an agent does not outrun within one sweep period.
 */
export class ActiveConversations {
  /** Said once: an app whose IM edition refuses conversation lists is swept without them. */
  private listsRefused = false;

  constructor(private readonly deps: ActiveDeps) {}

  /** The customers (openids), each with the agents whose conversation lists showed them. */
  async since(since: number): Promise<Customer[]> {
    const { redis, keys } = this.deps;
    const [wrote, replied, peers] = await Promise.all([
      redis.zrangebyscore(keys.recentCustomers, since, '+inf'),
      redis.zrangebyscore(keys.repliedCustomers, since, '+inf'),
      this.listedPeers(since),
    ]);
    const customers = new Map<string, Set<string>>([...wrote, ...replied].map((openid) => [openid, new Set()]));
    const ids = [...peers.keys()];
    for (let i = 0; i < ids.length; i += 500) {
      const openids = await redis.hmget(keys.openidOf, ...ids.slice(i, i + 500));
      openids.forEach((openid, j) => {
        if (openid === null) return;
        const agents = customers.get(openid) ?? new Set();
        for (const agent of peers.get(ids[i + j]!) ?? []) agents.add(agent);
        customers.set(openid, agents);
      });
    }
    return [...customers].map(([openid, otherAgents]) => ({ openid, otherAgents }));
  }

  /** The IM accounts agents exchanged a message with since `since`, from their conversation lists: account → those agents. */
  private async listedPeers(since: number): Promise<Map<string, Set<string>>> {
    const peers = new Map<string, Set<string>>();
    const options = { beforeSend: async (command: string) => (await this.deps.turn(command), true) };
    for (const agent of this.deps.agents) {
      try {
        for await (const page of this.deps.im.recentContacts(agent, options)) {
          // IM's clock counts seconds: a second of margin.
          for (const c of page) {
            if (c.msgTime * 1000 < since - 1000 || this.deps.agents.includes(c.peer)) continue;
            peers.set(c.peer, (peers.get(c.peer) ?? new Set()).add(agent));
          }
        }
      } catch (err) {
        if (!(err instanceof ImPermanentError)) throw err;
        if (!this.listsRefused)
          this.deps.log.warn(
            { code: err.code, reason: err.message },
            "IM refuses agents' conversation lists: sweeps look only at conversations the relay saw active",
          );
        this.listsRefused = true;
        return peers;
      }
    }
    return peers;
  }
}
