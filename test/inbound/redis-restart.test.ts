import t from 'tap';
import { converse, startTestRedis, startRelay, textOf } from '@wxim/testkit';

// A Redis of our own with AOF (fsync always), which this test kills and starts again.
const redis = await startTestRedis({ own: true, appendonly: true });
const relay = await startRelay(redis.url, { env: { WORKER_STALL_MS: '1500' } });
t.teardown(async () => {
  await relay.close();
  await redis.close();
});

t.test('Redis restarted mid-load loses nothing: every message arrives once, in order', async (t) => {
  relay.im.faults = { rate: 1, kinds: ['slow'], slowMs: 20 };
  let restarted: Promise<void> | undefined;
  const conversations = await converse(relay.wechat, 10, 15, (sent) => {
    if (sent === 50) {
      restarted = (async () => {
        await redis.stop(); // SIGKILL: only what AOF holds survives
        await new Promise((r) => setTimeout(r, 300));
        await redis.start();
      })();
    }
  });
  await restarted;
  await relay.waitForMessages(150, 60_000);
  for (const { openid, texts } of conversations) t.same(relay.im.messagesBetween(openid).map(textOf), texts, openid);
  t.equal(relay.im.messages.length, 150, 'exactly once');
});
