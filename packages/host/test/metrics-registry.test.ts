import { EVENT_LOOP_SAMPLE_MS, metricsRegistry } from '@wxim/host';
import t from 'tap';

/** The gauges as one scrape reads them (the event loop's are all set by one's collect, which starts afresh). */
async function scrape(registry: ReturnType<typeof metricsRegistry>): Promise<Map<string, number | undefined>> {
  return new Map((await registry.getMetricsAsJSON()).map((m) => [m.name, m.values[0]?.value]));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test("the event loop's delay is sampled every 100 ms, and still shows a stall", async (t) => {
  const registry = metricsRegistry({ processMetrics: true });
  t.teardown(() => registry.clear());
  t.equal(EVENT_LOOP_SAMPLE_MS, 100);
  // The sampling starts with the loop's next turn; then a stall of 400 ms, which the sample after
  // it records whole (Node records the time between two samples, so none is shorter than 100 ms).
  await sleep(2 * EVENT_LOOP_SAMPLE_MS);
  const until = performance.now() + 400;
  while (performance.now() < until);
  await sleep(3 * EVENT_LOOP_SAMPLE_MS);
  const gauges = await scrape(registry);
  const [min, max] = [gauges.get('nodejs_eventloop_lag_min_seconds'), gauges.get('nodejs_eventloop_lag_max_seconds')];
  t.ok(min !== undefined && min >= 0.095, `lag min ${min} s: one sample every 100 ms, not prom-client's 10`);
  t.ok(max !== undefined && max >= 0.35, `lag max ${max} s: the stall`);
});

t.test("a registry without the process's metrics has none", async (t) => {
  const registry = metricsRegistry();
  t.equal(registry.getSingleMetric('nodejs_eventloop_lag_max_seconds'), undefined);
  t.same(await registry.getMetricsAsJSON(), []);
});
