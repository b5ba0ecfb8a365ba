import { loadConfig } from '@wxim/config';
import { LocalRedis, testPrefix } from '@wxim/testkit';
import t from 'tap';
import { createDashboard } from '../src/index.js';

const redis = await LocalRedis.start({ args: ['--maxmemory', '100mb'] });
t.teardown(() => redis.close());
const dashboard = await createDashboard(loadConfig({ REDIS_URL: redis.url, QUEUE_PREFIX: testPrefix(), LOG_LEVEL: 'silent', SANDBOX: '0' }));
t.teardown(() => dashboard.close());

const metric = (text: string, name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]);
const metrics = async () => (await dashboard.app.inject({ url: '/metrics' })).body;

t.test("Redis's memory and its maxmemory, and whether it answers", async (t) => {
  const text = await metrics();
  t.equal(metric(text, 'wxim_redis_maxmemory_bytes'), 100 * 1024 * 1024, 'maxmemory as set');
  t.ok(metric(text, 'wxim_redis_used_memory_bytes') > 0, 'used memory');
  t.equal(metric(text, 'wxim_redis_up'), 1, 'Redis answers');
});

t.test('while Redis is away, /metrics answers at once: Redis down, no queue series, memory unknown', async (t) => {
  await redis.stop();
  try {
    const started = Date.now();
    const text = await metrics();
    t.ok(Date.now() - started < 5000, `answered in ${Date.now() - started} ms`);
    t.equal(metric(text, 'wxim_redis_up'), 0, 'wxim_redis_up 0');
    t.notMatch(text, /^wxim_queue_jobs\{/m, 'no queue series');
    t.ok(Number.isNaN(metric(text, 'wxim_redis_maxmemory_bytes')), 'maxmemory NaN, not 0');
  } finally {
    await redis.start();
  }
});
