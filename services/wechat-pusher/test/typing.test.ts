import type { ReplyJob } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { testRedisConnection } from '@wxim/testkit';
import { WechatPermanentError } from '@wxim/wechat';
import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import t from 'tap';
import { relayTyping, sentMark } from '../src/typing.js';

// A typing signal runs beside the customer's replies, not in their line: while its WeChat call is
// on its way, a reply part may go, which leaves the reply's own mark ("sent"). A typing WeChat then
// refuses takes back only its own mark, never the reply's. WeChat is a stand-in here.
const { redis } = await testRedisConnection(t);
const keys = stateKeys('{typing}');
const openid = 'o-typing-customer';
const job = (acceptedAt: number) =>
  ({ id: `t_${acceptedAt}`, data: { openid, agent: 'agent_a', signal: 'typing', acceptedAt } as unknown as ReplyJob }) as Job<ReplyJob>;
const openWindow = { check: async () => ({ open: true as const, remaining: 5, deadline: Date.now() + 60_000, lastActionAt: Date.now() }) };
const log = { debug: () => {}, info: () => {} };

t.test('a typing WeChat refuses while a reply part went meanwhile leaves the reply’s mark: a late typing shows nothing after the answer', async (t) => {
  const mark = keys.typingShown(openid);
  const replyAcceptedAt = Date.now();
  const wechat = {
    // The reply's part goes while the typing call is on its way; then WeChat refuses the typing.
    async typing() {
      await redis.set(mark, sentMark(replyAcceptedAt), 'PX', 15_000);
      throw new WechatPermanentError('custom/typing', 40003, 'invalid openid');
    },
  };
  const deps = { redis, keys, wechat, window: openWindow, tryTurn: async () => true, log };
  t.equal(await relayTyping(job(Date.now()), deps), 'refused');
  t.equal(await redis.get(mark), sentMark(replyAcceptedAt), "the reply's mark stays");
  // A typing signal the agent gave before that reply, run late: it would show "typing…" after the answer.
  t.equal(await relayTyping(job(replyAcceptedAt - 1000), deps), 'after_reply', 'nothing shown after the answer');
});

t.test('a typing WeChat refuses takes its own mark back: the next typing may show', async (t) => {
  const mark = keys.typingShown(`${openid}-2`);
  let calls = 0;
  const wechat = {
    async typing() {
      calls++;
      if (calls === 1) throw new WechatPermanentError('custom/typing', 40003, 'invalid openid');
      return true;
    },
  };
  const deps = { redis, keys, wechat, window: openWindow, tryTurn: async () => true, log };
  const other = { ...job(Date.now()), data: { ...job(Date.now()).data, openid: `${openid}-2` } } as Job<ReplyJob>;
  t.equal(await relayTyping(other, deps), 'refused');
  t.equal(await redis.get(mark), null, 'taken back');
  t.equal(await relayTyping(other, deps), 'shown', 'shown at the next typing');
  t.match(await redis.get(mark), /^\d+:t_\d+$/, 'the mark names the typing job that showed it');
});

t.test('a typing-stop that read a shown indicator just before a reply part went leaves the reply’s mark', async (t) => {
  const customer = `${openid}-3`;
  const mark = keys.typingShown(customer);
  const replyAcceptedAt = Date.now();
  // The pusher's own connection, on which the reply's part goes right after typing-stop read the mark.
  const racing = new Redis(redis.options);
  t.teardown(() => racing.disconnect());
  const get = racing.get.bind(racing);
  racing.get = async (key: string) => {
    const held = await get(key);
    await redis.set(mark, sentMark(replyAcceptedAt), 'PX', 15_000);
    return held;
  };
  await redis.set(mark, `${Date.now()}:t_1`, 'PX', 15_000);
  let cancelled = 0;
  const wechat = { typing: async () => (cancelled++, true) };
  const stop = { ...job(Date.now()), data: { ...job(Date.now()).data, openid: customer, signal: 'typing-stop' } } as Job<ReplyJob>;
  t.equal(await relayTyping(stop, { redis: racing, keys, wechat, window: openWindow, tryTurn: async () => true, log }), 'not_shown', 'nothing left to cancel');
  t.equal(await redis.get(mark), sentMark(replyAcceptedAt), "the reply's mark stays");
  t.equal(cancelled, 0, 'no cancel sent: the reply ended the indicator');
});
