import { setTimeout as sleep } from 'node:timers/promises';
import { QUEUES } from '@wxim/queue';
import { type Lease, LockLostError, NotOnReplicas, RateGate, ReplyRecall, stateKeys } from '@wxim/state';
import { eventually, testRedisConnection } from '@wxim/testkit';
import { type CustomMessage, type WechatApi, WechatTransientError } from '@wxim/wechat';
import { relayScripts } from '@wxim/redis-scripts';
import { Redis } from 'ioredis';
import t from 'tap';
import { type DeliveryDeps, deliver } from '../src/reply-delivery.js';
import { ReplyWithdrawn } from '../src/reply-withdrawn.js';
import { sweptReply, unrecordedWindow } from './delivery-stand-ins.js';

// Races on one reply between two workers, or between a send and its agent's recall, played out on a
// real Redis with the real scripts; WeChat's send is a stand-in that runs its beforeSend as the
// client does, then records what it sent.
const { redis } = await testRedisConnection(t);
const keys = stateKeys('{races}');
const gate = new RateGate(redis, keys, () => 100);
const window = unrecordedWindow;

const reply = (msgKey: string) => sweptReply(msgKey, [{ MsgType: 'TIMTextElem', MsgContent: { Text: `reply ${msgKey}` } }]);

/** A WeChat whose sends are recorded as `who` sent them, once their beforeSend has agreed. */
function wechatOf(who: string, sent: string[]): WechatApi {
  return {
    async sendCustom(message: CustomMessage, options: { beforeSend: (api: string) => Promise<boolean> }) {
      if (!(await options.beforeSend('message/custom/send'))) return;
      sent.push(`${who}: ${(message as { text: { content: string } }).text.content}`);
    },
  } as unknown as WechatApi;
}

function deps(wechat: WechatApi, turn: DeliveryDeps['turn'], lease?: Lease): DeliveryDeps {
  return { redis, wechat, window, progressKey: keys.replyProgress, turn, allowedHosts: [], mediaTimeoutMs: 1000, ...(lease ? { lease } : {}) };
}

t.test('a worker paused between its lock check and its mark does not send a part the worker that took the job over sent', async (t) => {
  const job = reply('k-paused');
  const lockKey = `${keys.jobs(QUEUES.agentReplies)}${job.id}:lock`;
  const leaseA = { lockKey, token: 'worker-a', lockMs: 30_000 };
  const leaseB = { lockKey, token: 'worker-b', lockMs: 30_000 };
  await redis.set(lockKey, leaseA.token, 'PX', 30_000);
  const sent: string[] = [];
  let thaw!: () => void;
  const frozen = new Promise<void>((resolve) => (thaw = resolve));
  // A's turn checks its lock, then A stops (a long GC, a paused VM) before marking the part.
  const a = deliver(
    job,
    deps(
      wechatOf('A', sent),
      async (api) => {
        const at = await gate.acquire({ platform: 'wechat', api }, leaseA);
        await frozen;
        return at;
      },
      leaseA,
    ),
  ).catch((err: Error) => err);
  await sleep(50);
  // A's lock runs out; the stalled-job check hands the job to B, which delivers it.
  await redis.set(lockKey, leaseB.token, 'PX', 30_000);
  t.same(
    await deliver(
      job,
      deps(wechatOf('B', sent), (api) => gate.acquire({ platform: 'wechat', api }, leaseB), leaseB),
    ),
    { delivered: true, parts: 1 },
  );
  thaw();
  t.type(await a, LockLostError, 'A finds the job is no longer its own');
  t.same(sent, ['B: reply k-paused'], 'the customer has the reply once');
});

t.test('a recall while the first part is on its way: withdrawn if WeChat refuses the part, too late if it takes it', async (t) => {
  const recall = new ReplyRecall(redis, keys);
  for (const wechatTakesIt of [false, true]) {
    const job = reply(`k-recall-${wechatTakesIt}`);
    const sent: string[] = [];
    let answer!: () => void;
    const onItsWay = new Promise<void>((resolve) => (answer = resolve));
    const wechat = {
      async sendCustom(message: CustomMessage, options: { beforeSend: (api: string) => Promise<boolean> }) {
        await options.beforeSend('message/custom/send');
        await onItsWay;
        if (!wechatTakesIt) throw new WechatTransientError('message/custom/send', -1, 'system busy');
        sent.push((message as { text: { content: string } }).text.content);
      },
    } as unknown as WechatApi;
    const first = deliver(
      job,
      deps(wechat, async () => 0),
    ).catch((err: Error) => err);
    await eventually('the part is on its way', async () => (await redis.hget(keys.replyProgress(job.id), 'p0')) === 'sending');
    t.equal(await recall.withdraw(job.data.msgKey), 'too_late', 'the recall hears it is too late: it most likely arrives');
    answer();
    const outcome = await first;
    if (wechatTakesIt) {
      t.same(outcome, { delivered: true, parts: 1 }, 'WeChat took it: delivered, as the agent was told');
      t.same(sent, [`reply ${job.data.msgKey}`]);
      continue;
    }
    t.type(outcome, ReplyWithdrawn, 'WeChat refused it: withdrawn');
    t.ok((outcome as ReplyWithdrawn).afterAll, 'after its agent was told it was too late');
    t.type(
      await deliver(
        job,
        deps(wechatOf('retry', sent), async () => 0),
      ).catch((err: Error) => err),
      ReplyWithdrawn,
      'a later attempt sends nothing',
    );
    t.same(sent, [], 'the customer never gets it');
    t.equal(await recall.withdraw(job.data.msgKey), 'stopped', 'a repeat of the recall hears it was stopped');
  }
});

t.test("with replicas waited for, a worker that lost its job leaves the other worker's marks alone", async (t) => {
  const job = reply('k-replicas');
  const progress = keys.replyProgress(job.id);
  const lockKey = `${keys.jobs(QUEUES.agentReplies)}${job.id}:lock`;
  // B took the job over and sent part 0; a recall had come while it was on its way.
  await redis.set(lockKey, 'worker-b', 'PX', 30_000);
  await redis.hset(progress, 'p0', 'sent', 'recallAsked', String(Date.now()));
  // A's mark is refused (its lock is gone) and, in the same step, the replicas fall short.
  const replicas = {
    async confirm(writes: (p: ReturnType<typeof redis.pipeline>) => void) {
      const pipeline = redis.pipeline();
      writes(pipeline);
      await pipeline.exec();
      throw new NotOnReplicas('only 0 of 1 replicas confirmed');
    },
  };
  const sent: string[] = [];
  const a = { ...deps(wechatOf('A', sent), async () => 0, { lockKey, token: 'worker-a', lockMs: 30_000 }), replicas } as DeliveryDeps;
  // A starts from before B's mark (its progress read earlier), as a paused worker would.
  await redis.hdel(progress, 'p0');
  const marksOfB = async () => redis.hset(progress, 'p0', 'sent');
  const first = deliver(job, { ...a, turn: async () => (await marksOfB(), 0) }).catch((err: Error) => err);
  t.type(await first, NotOnReplicas);
  t.same(sent, [], 'A sent nothing');
  t.equal(await redis.hget(progress, 'p0'), 'sent', "B's mark stays: a retry does not send the part again");
  t.equal(await redis.hget(progress, 'withdrawn'), null, 'the delivered reply is not taken for withdrawn');
});

t.test('a part whose mark was written but its answer lost (Redis stalled) is sent by the next attempt, not reported as may-have-arrived', async (t) => {
  const job = reply('k-mark-answer-lost');
  const lossy = new Redis(redis.options);
  t.teardown(() => lossy.disconnect());
  const scripts = relayScripts(lossy);
  const markSending = scripts.wximReplyMarkSending.bind(scripts);
  let lose = true;
  // The script runs in Redis; its answer never reaches the pusher (ioredis's command timeout).
  scripts.wximReplyMarkSending = async (...args: Parameters<typeof markSending>) => {
    const result = await markSending(...args);
    if (!lose) return result;
    lose = false;
    throw new Error('Command timed out');
  };
  const sent: string[] = [];
  const on = (client: Redis): DeliveryDeps => ({ ...deps(wechatOf('pusher', sent), async () => 0), redis: client });
  t.match(await deliver(job, on(lossy)).catch((err: Error) => err), { message: 'Command timed out' }, 'the first attempt fails: its mark unanswered');
  t.equal(await redis.hget(keys.replyProgress(job.id), 'p0'), null, 'the mark it wrote is taken back');
  t.same(await deliver(job, on(lossy)), { delivered: true, parts: 1 }, 'the next attempt sends it');
  t.same(sent, ['pusher: reply k-mark-answer-lost'], 'once');
});

t.test('WeChat refusing the token, then the lock lost before the send is made again: no part is left marked on its way', async (t) => {
  const job = reply('k-token-then-lock');
  const lockKey = `${keys.jobs(QUEUES.agentReplies)}${job.id}:lock`;
  const leaseA = { lockKey, token: 'worker-a', lockMs: 30_000 };
  const leaseB = { lockKey, token: 'worker-b', lockMs: 30_000 };
  await redis.set(lockKey, leaseA.token, 'PX', 30_000);
  const sent: string[] = [];
  // A's send is answered 40001; before its second try's turn, its lock runs out and B takes the job.
  const refusesTokenOnce = {
    async sendCustom(_message: CustomMessage, options: { beforeSend: (api: string) => Promise<boolean> }) {
      await options.beforeSend('message/custom/send');
      await options.beforeSend('message/custom/send');
    },
  } as unknown as WechatApi;
  let turns = 0;
  const a = await deliver(
    job,
    deps(
      refusesTokenOnce,
      async (api) => {
        if (++turns === 2) await redis.set(lockKey, leaseB.token, 'PX', 30_000);
        return gate.acquire({ platform: 'wechat', api }, leaseA);
      },
      leaseA,
    ),
  ).catch((err: Error) => err);
  t.type(a, LockLostError, 'A finds the job is no longer its own');
  t.same(
    await deliver(
      job,
      deps(wechatOf('B', sent), (api) => gate.acquire({ platform: 'wechat', api }, leaseB), leaseB),
    ),
    { delivered: true, parts: 1 },
    'B sends it: nothing had arrived',
  );
  t.same(sent, ['B: reply k-token-then-lock']);
});
