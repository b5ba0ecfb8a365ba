import { fileURLToPath } from 'node:url';
import t from 'tap';
import { AGENTS, IM_APP_ID, IM_KEY, freePort, runService, startTestRedis, testPrefix, whenReady } from '@wxim/testkit';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const im = { IM_SDK_APP_ID: String(IM_APP_ID), IM_SECRET_KEY: IM_KEY, IM_AGENTS: AGENTS.join(',') };

t.test('start-up without IM_CALLBACK_TOKEN fails with one line naming it: callbacks are never taken unauthenticated', async (t) => {
  const proc = runService(main, im);
  t.equal(await proc.exited, 78);
  const lines = proc.output().stderr.trim().split('\n');
  t.equal(lines.length, 1);
  t.match(lines[0], /^im-callback: configuration error: IM_CALLBACK_TOKEN is missing: /);
});

t.test('im-callback runs alone, becomes ready, and exits cleanly on SIGTERM', async (t) => {
  const redis = await startTestRedis();
  t.teardown(() => redis.close());
  const port = await freePort();
  const proc = runService(main, { ...im, IM_CALLBACK_TOKEN: 'token', REDIS_URL: redis.url, CALLBACK_PORT: String(port), QUEUE_PREFIX: testPrefix() });
  await whenReady(port, proc.child);
  proc.child.kill('SIGTERM');
  t.equal(await proc.exited, 0);
});
