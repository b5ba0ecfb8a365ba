import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import t from 'tap';
import { freePort, startTestRedis, runService } from '@wxim/testkit';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));

const run = (env: Record<string, string>) => runService(main, env);

t.test('start-up without WECHAT_TOKEN fails with one line naming it', async (t) => {
  const proc = run({});
  t.equal(await proc.exited, 78);
  const lines = proc.output().stderr.trim().split('\n');
  t.equal(lines.length, 1);
  t.match(lines[0], /^wechat-gateway: configuration error: WECHAT_TOKEN is missing: /);
});

t.test('a malformed value fails start-up the same way', async (t) => {
  const proc = run({ WECHAT_TOKEN: 'tokentoken', WECHAT_ENCODING_AES_KEY: 'nope' });
  t.equal(await proc.exited, 78);
  t.match(proc.output().stderr, /^wechat-gateway: configuration error: WECHAT_ENCODING_AES_KEY is malformed/);
});

t.test('the service starts, becomes ready, and exits cleanly on SIGTERM', async (t) => {
  const redis = await startTestRedis();
  t.teardown(() => redis.close());
  const port = await freePort();
  const proc = run({ WECHAT_TOKEN: 'tokentoken', REDIS_URL: redis.url, GATEWAY_PORT: String(port), QUEUE_PREFIX: 'tproc' });
  const deadline = Date.now() + 15_000;
  let status = 0;
  while (status !== 200 && Date.now() < deadline) {
    try {
      const res = await request(`http://127.0.0.1:${port}/readyz`);
      await res.body.dump();
      status = res.statusCode;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  t.equal(status, 200, 'ready');
  proc.child.kill('SIGTERM');
  t.equal(await proc.exited, 0, 'exit code 0 after SIGTERM');
  t.match(proc.output().stdout, /shutting down/);
});
