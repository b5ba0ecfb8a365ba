import { loadConfig } from '@wxim/config';
import { QUEUES, keyPrefix } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { testPrefix, testRedisConnection } from '@wxim/testkit';
import { Queue } from 'bullmq';
import t from 'tap';
import { createDashboard } from '../src/index.js';

// Conversations waiting for an agent are delayed jobs on purpose: the age of the oldest delayed
// job (WximQueueDelayedStuck) leaves them out, however many wait.
const { server, redis } = await testRedisConnection(t);

t.test('a night queue of 1,200 customers waiting for an agent is not a delayed job stuck', async (t) => {
  const queuePrefix = testPrefix();
  const prefix = keyPrefix(queuePrefix, false);
  const keys = stateKeys(prefix);
  const queue = new Queue(QUEUES.wechatInbound, { connection: redis, prefix });
  t.teardown(() => queue.close());
  const stored = Date.now() - 20 * 60_000; // twenty minutes ago
  const customers = Array.from({ length: 1200 }, (_, i) => `oWaiting${String(i).padStart(20, '0')}`);
  await queue.addBulk(customers.map((openid) => ({ name: 'text', data: {}, opts: { jobId: `job-${openid}`, delay: 60_000, timestamp: stored } })));
  const pipeline = redis.pipeline();
  customers.forEach((openid, i) => {
    pipeline.zadd(keys.deskWaiting, String(stored + i), openid);
    pipeline.zadd(keys.line(QUEUES.wechatInbound, openid), '1', `job-${openid}`);
  });
  await pipeline.exec();
  const dashboard = await createDashboard(loadConfig({ REDIS_URL: server.url, QUEUE_PREFIX: queuePrefix, LOG_LEVEL: 'silent', SANDBOX: '0' }));
  t.teardown(() => dashboard.close());
  const text = (await dashboard.app.inject({ url: '/metrics' })).body;
  const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
  t.equal(value('wxim_queue_jobs{queue="wechat-inbound",state="delayed"}'), 1200, 'all delayed');
  t.equal(value('wxim_desk_waiting_conversations'), 1200, 'all waiting for an agent');
  t.equal(value('wxim_queue_oldest_delayed_seconds{queue="wechat-inbound"}'), 0, 'none counted as stuck');
});
