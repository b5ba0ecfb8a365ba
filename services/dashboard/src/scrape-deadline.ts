/**
 * What a scrape reads from Redis must answer within `ms`: while Redis is away the dashboard's
 * commands wait for it, and a /metrics that waits past Prometheus's scrape timeout would take
 * `wxim_redis_up` (which says Redis is away) down with it.
 */
export async function withinScrape<T>(read: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      read,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
