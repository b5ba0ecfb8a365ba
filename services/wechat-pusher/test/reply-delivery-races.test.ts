import { setTimeout as sleep } from 'node:timers/promises';
import { QUEUES, replyJobId } from '@wxim/queue';
import { type Lease, LockLostError, RateGate, stateKeys } from '@wxim/state';
import { testRedisConnection } from '@wxim/testkit';
import type { CustomMessage, WechatApi } from '@wxim/wechat';
import t from 'tap';
import { type DeliveryDeps, deliver } from '../src/reply-delivery.js';

// Races on one reply between two workers, or between a send and its agent's recall, played out on a
// real Redis with the real scripts; WeChat's send is a stand-in that runs its beforeSend as the
// client does, then records what it sent.
const { redis } = await testRedisConnection(t);
const keys = stateKeys('{races}');
const gate = new RateGate(redis, keys, () => 100);
const openid = 'o'.repeat(28);
const window: DeliveryDeps['window'] = {
  check: async () => ({ open: false, reason: 'never' }),
  consume: async () => {},
  exhaust: async () => {},
  close: async () => {},
} as unknown as DeliveryDeps['window'];

function reply(msgKey: string) {
  return {
    id: replyJobId(msgKey),
    data: {
      agent: 'agent_a',
      userId: 'c_1',
      openid,
      msgKey,
      msgTime: 0,
      body: [{ MsgType: 'TIMTextElem' as const, MsgContent: { Text: `reply ${msgKey}` } }],
      acceptedAt: Date.now(),
      via: 'sweep' as const,
    },
  };
}

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
