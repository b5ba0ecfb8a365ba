import { QUEUES } from '@wxim/queue';
import { type AgentLoad, type StateKeys, isOnline, redisNowMs, storedAgentState } from '@wxim/state';
import type { Cluster, Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import { DELAYED_LOOKED_AT } from './queue-metrics.js';
import { withinScrape } from './scrape-deadline.js';

/**
 * How many waiting customers' lines are read per scrape: as many as delayed jobs are looked at for
 * the oldest's age, so that a queue of waiting customers that long is left out whole (a bounded cost).
 */
const WAITING_LOOKED_AT = DELAYED_LOOKED_AT;

/**
 * The jobs of the conversations waiting for an agent (each waiting customer's line): delayed on
 * purpose, not stuck, so they are left out of the age of the oldest delayed job.
 */
export async function waitingJobIds(redis: Redis | Cluster, keys: StateKeys): Promise<Set<string>> {
  const openids = await redis.zrange(keys.deskWaiting, 0, WAITING_LOOKED_AT - 1);
  if (openids.length === 0) return new Set();
  const pipeline = redis.pipeline();
  for (const openid of openids) pipeline.zrange(keys.line(QUEUES.wechatInbound, openid), 0, -1);
  const lines = ((await pipeline.exec()) ?? []).flatMap(([, ids]) => (Array.isArray(ids) ? (ids as string[]) : []));
  return new Set(lines);
}

/**
 * The desk, read from Redis when Prometheus scrapes: conversations waiting for an agent and the
 * longest wait, open conversations per agent, how far those counts are off (`drift`: the agents'
 * loads against the open conversations of the accounts that share the IM app), and agents
 * online. Left out when Redis does not answer within `deadlineMs`.
 */
export function registerDeskMetrics(
  registry: Registry,
  redis: Redis | Cluster,
  keys: StateKeys,
  agents: readonly string[],
  drift: () => ReturnType<AgentLoad['drift']>,
  deadlineMs = 2000,
): void {
  const gauge = ({ name, help, read }: { name: string; help: string; read: () => Promise<number> }) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        try {
          this.set(await withinScrape(read(), deadlineMs));
        } catch {
          this.reset();
        }
      },
    });
  gauge({
    name: 'wxim_desk_waiting_conversations',
    help: 'Conversations waiting for an agent online with room (their messages kept, in order)',
    read: () => redis.zcard(keys.deskWaiting),
  });
  gauge({
    name: 'wxim_desk_longest_wait_seconds',
    help: 'How long the conversation waiting longest has waited for an agent (0 when none waits)',
    read: async () => {
      const [, since] = await redis.zrange(keys.deskWaiting, 0, 0, 'WITHSCORES');
      const now = await redisNowMs(redis);
      return since === undefined ? 0 : Math.max(0, (now - Number(since)) / 1000);
    },
  });
  gauge({
    name: 'wxim_desk_agents_online',
    help: 'Agents of IM_AGENTS whose latest login state leaves them online (an agent never heard of counts as online)',
    read: async () => {
      if (agents.length === 0) return 0;
      const states = await redis.hmget(keys.agentState, ...agents);
      return states.filter((s) => isOnline(storedAgentState(s))).length;
    },
  });
  gauge({
    name: 'wxim_desk_load_drift',
    help: "Open conversations the agents' counts are off by, against the conversations the desk has open (0 normally; restarting the im-workers counts afresh)",
    read: drift,
  });
  new Gauge({
    name: 'wxim_desk_open_conversations',
    help: "Open conversations per agent (of every account that shares this account's IM app)",
    labelNames: ['agent'],
    registers: [registry],
    async collect() {
      try {
        const loads = await withinScrape(redis.zrange(keys.agentLoad, 0, -1, 'WITHSCORES'), deadlineMs);
        this.reset();
        for (let i = 0; i + 1 < loads.length; i += 2) this.set({ agent: loads[i]! }, Math.max(0, Number(loads[i + 1])));
      } catch {
        this.reset();
      }
    },
  });
}
