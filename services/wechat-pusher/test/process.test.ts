import { fileURLToPath } from 'node:url';
import t from 'tap';
import { AGENTS, APP_ID, IM_APP_ID, IM_KEY, freePort, runService, startTestRedis, testPrefix, whenReady } from '@wxim/testkit';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const im = { IM_SDK_APP_ID: String(IM_APP_ID), IM_SECRET_KEY: IM_KEY, IM_AGENTS: AGENTS.join(',') };

t.test('start-up without WECHAT_APP_SECRET fails with one line naming it', async (t) => {
  const proc = runService(main, { ...im, WECHAT_APP_ID: APP_ID });
  t.equal(await proc.exited, 78);
  const lines = proc.output().stderr.trim().split('\n');
  t.equal(lines.length, 1);
  t.match(lines[0], /^wechat-pusher: configuration error: WECHAT_APP_SECRET is missing: /);
});

t.test('the wechat-pusher runs alone, becomes ready, and exits cleanly on SIGTERM', async (t) => {
  const redis = await startTestRedis();
  t.teardown(() => redis.close());
  const port = await freePort();
  const env = {
    ...im,
    WECHAT_APP_ID: APP_ID,
    WECHAT_APP_SECRET: '0123456789abcdef0123456789abcdef',
    REDIS_URL: redis.url,
    PUSHER_PORT: String(port),
    QUEUE_PREFIX: testPrefix(),
  };
  const proc = runService(main, env);
  await whenReady(port, proc.child);
  proc.child.kill('SIGTERM');
  t.equal(await proc.exited, 0);
  t.notMatch(proc.output().stdout, /CALLBACK_VERIFY=off/, "replies are confirmed in IM's history: nothing to warn of");

  t.test('CALLBACK_VERIFY=off is taken only by choice, and said at start', async (t) => {
    const off = runService(main, { ...env, CALLBACK_VERIFY: 'off' });
    await whenReady(port, off.child);
    off.child.kill('SIGTERM');
    t.equal(await off.exited, 0);
    const warning = off
      .output()
      .stdout.split('\n')
      .find((l) => l.includes('CALLBACK_VERIFY=off'));
    t.match(JSON.parse(warning ?? '{}'), { level: 40, msg: /delivered on the callback's word alone/ });
  });
});
