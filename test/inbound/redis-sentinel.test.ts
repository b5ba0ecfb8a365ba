import { fileURLToPath } from 'node:url';
import t from 'tap';
import { fakeOpenId } from '@wxim/sandbox';
import { TestRedisSentinels, eventually, runService, startRelay, textOf } from '@wxim/testkit';

// Two failovers under a steady stream of pushes: the primary killed (SIGKILL), then, once it is
// back as a replica, a failover by hand (SENTINEL FAILOVER, writes not paused). The sentinels
// notice a silent server after 1 s. With replication asynchronous, a push the primary acknowledged
// may not be on the replica it dies with: REDIS_WAIT_REPLICAS=1 is what makes an acknowledged push
// safe. And the old primary takes writes until the switch is announced: a push stored only there
// (answered 503, so WeChat sends it again) must not reach the agent, or its repeat, stored on the
// new primary, reaches them a second time. The workers relay only jobs a replica holds.
t.setTimeout(300_000);
const redis = await TestRedisSentinels.start({ password: 'pr1mary p@ss', sentinelPassword: 'sentinel:pass/1' });
const { REDIS_URL: redisUrl, ...sentinelEnv } = redis.env;
const relay = await startRelay(redisUrl!, { env: { ...sentinelEnv, REDIS_WAIT_REPLICAS: '1', WORKER_STALL_MS: '1500' } });
t.teardown(async () => {
  await relay.close();
  await redis.close();
});

interface Customer {
  openid: string;
  /** What the gateway answered 200 to, in the order the customer wrote it. */
  acknowledged: string[];
}

/**
 * Customers writing one message after the other until told to stop. A push not answered 200 is
 * sent again (as WeChat does, but without giving up), so every message a customer wrote is
 * acknowledged in the end, each before the next is written.
 */
function write(customers: Customer[]): { ackedAt: number[]; stop(): Promise<void> } {
  const ackedAt: number[] = [];
  let writing = true;
  const done = Promise.all(
    customers.map(async (c) => {
      for (let i = 0; writing; i++) {
        const text = `${c.openid} message ${i}`;
        const signed = relay.wechat.sign(relay.wechat.text(c.openid, text));
        const deadline = Date.now() + 120_000;
        while ((await relay.wechat.post(signed).catch(() => ({ status: 0 }))).status !== 200) {
          if (Date.now() > deadline) throw new Error(`${text} was not acknowledged within 120 s`);
          await new Promise((r) => setTimeout(r, 100));
        }
        c.acknowledged.push(text);
        ackedAt.push(Date.now());
        await new Promise((r) => setTimeout(r, 50));
      }
    }),
  );
  return {
    ackedAt,
    stop: async () => {
      writing = false;
      await done;
    },
  };
}

/** The longest stretch without an acknowledgement since `from` (ms). */
function longestSilence(ackedAt: readonly number[], from: number): number {
  const after = ackedAt.filter((at) => at >= from);
  return Math.max(0, ...after.map((at, i) => at - (i === 0 ? from : after[i - 1]!)));
}

t.test('through Sentinel, a primary killed and a failover by hand lose no acknowledged push: each reaches its agent once, in order', async (t) => {
  const [first, second] = redis.servers;
  t.equal(await redis.primaryPort(), first.port, 'the sentinels start with the first server as primary');
  const customers: Customer[] = Array.from({ length: 6 }, () => ({ openid: fakeOpenId(), acknowledged: [] }));
  const writers = write(customers);
  const acks = async (what: string, more: number) => {
    const target = writers.ackedAt.length + more;
    await eventually(`${more} more pushes are acknowledged ${what}`, () => writers.ackedAt.length >= target, 90_000, 50);
  };
  try {
    await acks('before the primary dies', 30);

    const killedAt = Date.now();
    await first.stop(); // SIGKILL: what only the primary held is gone with it
    await eventually('the sentinels promote the replica', async () => (await redis.primaryPort()) === second.port, 30_000, 100);
    t.comment(`promoted ${Date.now() - killedAt} ms after the primary was killed`);
    // It comes back, as a restarted pod does, a replica of the new primary.
    await redis.restartAsReplica(first, second.port);
    await redis.settled(second.port, 60_000);
    await acks('on the new primary', 30);
    t.comment(`longest time without an acknowledged push after the kill: ${longestSilence(writers.ackedAt, killedAt)} ms`);

    const switchedAt = Date.now();
    await redis.failover(); // no CLIENT PAUSE: the relay must not depend on it
    await eventually('the sentinels switch back to the first server', async () => (await redis.primaryPort()) === first.port, 30_000, 100);
    await redis.settled(first.port, 60_000);
    await acks('after the failover by hand', 30);
    t.comment(`longest time without an acknowledged push after SENTINEL FAILOVER: ${longestSilence(writers.ackedAt, switchedAt)} ms`);
  } finally {
    await writers.stop();
  }

  const total = customers.reduce((n, c) => n + c.acknowledged.length, 0);
  await relay.waitForMessages(total, 90_000);
  for (const c of customers) t.same(relay.im.messagesBetween(c.openid).map(textOf), c.acknowledged, `${c.openid}: every acknowledged push, once, in order`);
  t.equal(relay.im.messages.length, total, `exactly once: ${total} pushes`);
  t.equal(await relay.gateway.jobCount(), total, 'each stored once, on the primary the sentinels name now');
  const prefix = relay.env['QUEUE_PREFIX']!;
  t.ok((await redis.admin(first.port).keys(`${prefix}:wechat-inbound:*`)).length > 0, "the relay's keys are on the first server, primary again");
});

t.test('retry-failed goes through the sentinels too', async (t) => {
  const main = fileURLToPath(new URL('../../cli/dist/retry-failed.js', import.meta.url));
  const proc = runService(main, { ...redis.env, QUEUE_PREFIX: relay.env['QUEUE_PREFIX']!, LOG_LEVEL: 'silent' });
  t.equal(await proc.exited, 0, proc.output().stderr);
  t.match(proc.output().stdout, /^retried 0 failed jobs of wechat-inbound$/m);
});

t.test('sentinels without the primary name stop a service at start with one line naming it, exit 78', async (t) => {
  const main = fileURLToPath(new URL('../../services/im-worker/dist/main.js', import.meta.url));
  const env: Record<string, string> = { ...relay.env, ...redis.env };
  delete env['REDIS_SENTINEL_NAME'];
  const proc = runService(main, env);
  t.equal(await proc.exited, 78);
  const lines = proc.output().stderr.trim().split('\n');
  t.equal(lines.length, 1, 'one line');
  t.match(lines[0], /^im-worker: configuration error: REDIS_SENTINEL_NAME is missing: .*needed with REDIS_SENTINELS$/);
  t.notOk(proc.output().stderr.includes('sentinel:pass'), 'no password in it');
});
