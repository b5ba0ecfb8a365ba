import { Gauge, type Registry } from 'prom-client';
import { type Pingable, redisAnswers } from './redis-ping.js';

/**
 * `wxim_redis_up`: 1 when this service's Redis answers the readiness check's PING, 0 when not,
 * asked at each scrape. An unready pod leaves its Service but Prometheus still scrapes it by its
 * own address, so this keeps saying "Redis is down" for as long as it is.
 */
export function registerRedisUp(registry: Registry, redis: Pingable, timeoutMs: number): void {
  if (registry.getSingleMetric('wxim_redis_up') !== undefined) return;
  new Gauge({
    name: 'wxim_redis_up',
    help: "1 when this service's Redis answers a PING within a second, 0 when it does not (asked at each scrape)",
    registers: [registry],
    async collect() {
      this.set((await redisAnswers(redis, timeoutMs)) ? 1 : 0);
    },
  });
}
