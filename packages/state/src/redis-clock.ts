import type { Cluster, Redis } from 'ioredis';

/**
 * Now on Redis's clock (TIME), in ms: the one clock every instance of a fleet shares, whatever
 * their own clocks say. What several instances compare or hand on to each other is timed by it.
 */
export async function redisNowMs(redis: Redis | Cluster): Promise<number> {
  const [seconds, micro] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micro) / 1000);
}
