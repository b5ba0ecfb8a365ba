import t from 'tap';
import { converse, eventually, metricValue, startTestRedis, startRelay, textOf } from '@wxim/testkit';
import { fakeOpenId } from '@wxim/sandbox';

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

// WeChat may try a push it was refused again at once, a few times within a second, then give up:
// a 503 the moment Redis is away would lose the push. The gateway keeps trying within its budget.
t.test('a push that comes while Redis restarts is answered once Redis is back, not refused: stored and relayed once', async (t) => {
  relay.im.faults = { rate: 0, kinds: [] };
  const safe = fakeOpenId();
  const plain = fakeOpenId();
  const plainly = relay.gateway.platform('plain');
  const retries = (step: string) => metricValue(relay.gateway.gateway.app, `wxim_gateway_store_retries_total{step="${step}"}`);
  const [storesBefore, addressesBefore] = [(await retries('store'))!, (await retries('address'))!];
  await redis.stop();
  const back = (async () => {
    await new Promise((r) => setTimeout(r, 300));
    await redis.start();
  })();
  const [a, b] = await Promise.all([
    relay.wechat.push(relay.wechat.text(safe, 'safe, while Redis restarts')),
    plainly.push(plainly.text(plain, 'plain, while Redis restarts')),
  ]);
  await back;
  t.equal(a.status, 200, 'the encrypted push is stored');
  t.equal(b.status, 200, 'the plain push is stored too (its address bound first)');
  t.ok((await retries('store'))! > storesBefore, "the stores' tries again are counted");
  t.ok((await retries('address'))! > addressesBefore, "so are the plain push's, while its address is bound");
  await eventually('both reach IM', () => relay.im.messagesBetween(safe).length + relay.im.messagesBetween(plain).length === 2, 30_000);
  t.same(relay.im.messagesBetween(safe).map(textOf), ['safe, while Redis restarts']);
  t.same(relay.im.messagesBetween(plain).map(textOf), ['plain, while Redis restarts']);
});

// A plain push's address is bound before it is stored. One that comes while an earlier push of
// the same customer waits out its 100 ms between tries would reach Redis first once it is back,
// and be stored, and relayed, first.
t.test("a customer's plain push that comes while their earlier one waits to be tried again (Redis away) is stored after it", async (t) => {
  relay.im.faults = { rate: 0, kinds: [] };
  const plainly = relay.gateway.platform('plain');
  const openid = fakeOpenId();
  const addressRetries = async () => (await metricValue(relay.gateway.gateway.app, 'wxim_gateway_store_retries_total{step="address"}'))!;
  const before = await addressRetries();
  await redis.stop();
  const first = plainly.push(plainly.text(openid, 'first'));
  await eventually('the first push waits to be tried again', async () => (await addressRetries()) > before, 5000, 5);
  const second = plainly.push(plainly.text(openid, 'second'));
  await redis.start();
  const [a, b] = await Promise.all([first, second]);
  t.equal(a.status, 200);
  t.equal(b.status, 200);
  await eventually('both reach IM', () => relay.im.messagesBetween(openid).length === 2, 30_000);
  t.same(relay.im.messagesBetween(openid).map(textOf), ['first', 'second'], 'in the order the customer sent them');
});
