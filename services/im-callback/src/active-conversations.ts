import { type ImClient, ImPermanentError } from '@wxim/im';
import type { StateKeys } from '@wxim/relay';
import type { Redis, Cluster } from 'ioredis';

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

  async since(since: number): Promise<Set<string>> {
    const { redis, keys } = this.deps;
    const [wrote, replied, peers] = await Promise.all([
      redis.zrangebyscore(keys.recentCustomers, since, '+inf'),
      redis.zrangebyscore(keys.repliedCustomers, since, '+inf'),
      this.listedPeers(since),
    ]);
    const customers = new Set([...wrote, ...replied]);
    const ids = [...peers];
    for (let i = 0; i < ids.length; i += 500) {
      const openids = await redis.hmget(keys.openidOf, ...ids.slice(i, i + 500));
      for (const openid of openids) if (openid !== null) customers.add(openid);
    }
    return customers;
  }

  /** The IM accounts agents exchanged a message with since `since`, from their conversation lists. */
  private async listedPeers(since: number): Promise<Set<string>> {
    const peers = new Set<string>();
    const options = { beforeSend: async (command: string) => (await this.deps.turn(command), true) };
    for (const agent of this.deps.agents) {
      try {
        for await (const page of this.deps.im.recentContacts(agent, options)) {
          // IM's clock counts seconds: a second of margin.
          for (const c of page) if (c.msgTime * 1000 >= since - 1000 && !this.deps.agents.includes(c.peer)) peers.add(c.peer);
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
