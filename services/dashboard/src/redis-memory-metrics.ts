import type { RedisClient } from '@wxim/queue';
import { Gauge, type Registry } from 'prom-client';
import { withinScrape } from './scrape-deadline.js';

interface Memory {
  used: number;
  max: number;
}

/** `used_memory` and `maxmemory` from INFO memory's `field:value` lines. */
export function parseInfoMemory(info: string): Memory {
  const field = (name: string) => Number(info.match(new RegExp(`^${name}:(\\d+)\\r?$`, 'm'))?.[1] ?? NaN);
  return { used: field('used_memory'), max: field('maxmemory') };
}

/** The fullest node: on a Cluster each primary fills on its own, and the first full one refuses writes. */
async function readMemory(redis: RedisClient): Promise<Memory> {
  const nodes = 'nodes' in redis ? redis.nodes('master') : [redis];
  const all = await Promise.all(nodes.map(async (node) => parseInfoMemory(await node.info('memory'))));
  const share = (m: Memory) => (m.max > 0 ? m.used / m.max : 0);
  return all.reduce((fullest, m) => (share(m) > share(fullest) || (fullest.max === 0 && m.max === 0 && m.used > fullest.used) ? m : fullest));
}

/**
 * Redis's memory as the relay's Redis reports it (INFO memory at each scrape): with
 * `maxmemory-policy noeviction` a full Redis refuses every write, and the gateway answers 503.
 * `wxim_redis_maxmemory_bytes` 0 means no limit is set; both are NaN while Redis does not answer.
 */
export function registerRedisMemoryMetrics(registry: Registry, redis: RedisClient, deadlineMs = 2000): void {
  let reading: Promise<Memory> | undefined;
  // Both gauges come from one INFO per scrape.
  const read = () => (reading ??= withinScrape(readMemory(redis), deadlineMs).finally(() => setImmediate(() => (reading = undefined))));
  const gauge = ({ name, help, pick }: { name: string; help: string; pick: (m: Memory) => number }) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        try {
          this.set(pick(await read()));
        } catch {
          // NaN, not 0: a Redis that does not answer is neither empty nor without a limit.
          this.set(NaN);
        }
      },
    });
  gauge({ name: 'wxim_redis_used_memory_bytes', help: "Redis's used_memory (on a Cluster, the fullest primary's)", pick: (m) => m.used });
  gauge({ name: 'wxim_redis_maxmemory_bytes', help: "Redis's maxmemory (0: no limit set; on a Cluster, the fullest primary's)", pick: (m) => m.max });
}
