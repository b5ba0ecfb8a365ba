/** A service's app, scraped as Prometheus would (through Fastify's inject: no port needed). */
export interface Scraped {
  inject(options: { url: string }): PromiseLike<{ body: string }>;
}

/** The lines of a service's /metrics. */
async function scrape(app: Scraped): Promise<string[]> {
  return (await app.inject({ url: '/metrics' })).body.split('\n');
}

/** The value of one series, named exactly as exported (`name{label="…"}`); undefined when it is not. */
export async function metricValue(app: Scraped, series: string): Promise<number | undefined> {
  const line = (await scrape(app)).find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Every exported line of a metric's series with labels (`name{…} value`). */
export async function metricLines(app: Scraped, name: string): Promise<string[]> {
  return (await scrape(app)).filter((l) => l.startsWith(`${name}{`));
}
