import { textElem } from '@wxim/im';
import { keyPrefix, replyJobId } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { ratingOptionId } from '@wxim/wechat';
import { Redis } from 'ioredis';
import t from 'tap';
import { type TwoWayRelay, eventually, textOf, twoWayForTests } from '@wxim/testkit';

const CSAT_TEXT = 'How did we do today? Tap a score from 1 (poor) to 5 (great).';

/** A customer who wrote, the agent serving them, and what the relay tells that agent in their conversation. */
async function conversation(relay: TwoWayRelay) {
  const c = await relay.newCustomer();
  const notices = () =>
    relay.im
      .messagesBetween(c.userId, c.agent)
      .filter((m) => m.cloudCustomData?.includes('relay-notice'))
      .map(textOf);
  const notice = async (pattern: RegExp) => {
    await eventually(`a notice ${pattern} to ${c.agent}`, () => notices().some((n) => pattern.test(n)), 10_000);
    return notices().find((n) => pattern.test(n))!;
  };
  const says = (text: string) => relay.im.agentSend(c.agent, c.userId, [textElem(text)]);
  /** Every message of the customer's that reached any agent. */
  const reachedAgents = () => relay.im.messages.filter((m) => m.cloudCustomData?.includes(c.openid) && !m.cloudCustomData.includes('relay-notice')).length;
  return { ...c, notice, says, reachedAgents };
}

/** A sample of the im-worker's /metrics, 0 when absent. */
async function sample(relay: TwoWayRelay, series: string): Promise<number> {
  const text = (await relay.worker.app.inject('/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}
const answers = (relay: TwoWayRelay, score: number) => sample(relay, `wxim_desk_csat_answers_total{score="${score}"}`);
const ratingPushes = (relay: TwoWayRelay) => sample(relay, 'wxim_im_relayed_total{kind="rating",outcome="skipped"}');

t.test('with CSAT_TEXT', async (t) => {
  // WeChat's daily quota looked at again after 300 ms, not 5 minutes (the last test below).
  const relay = await twoWayForTests(t, { env: { CSAT_TEXT }, pusher: { quotaLookAgainMs: 300 } });
  const redis = new Redis(relay.redisUrl);
  t.teardown(() => redis.disconnect());
  const keys = stateKeys(keyPrefix(relay.env['QUEUE_PREFIX']!, false));

  t.test('/close asks the customer once; their tap is counted by score, reaches no agent and opens no conversation', async (t) => {
    const c = await conversation(relay);
    const load = async () => Number(await redis.zscore(keys.agentLoad, c.agent));
    const open = await load();
    await c.says('/close');
    t.match(await c.notice(/Conversation closed/), /The customer was asked to rate it\./, 'the agent hears the question went out');
    const [question, ...more] = await relay.waitForSent(c.openid, 1);
    t.same(more, [], 'one message reached the customer');
    t.equal(question!.msgtype, 'msgmenu');
    const menu = question!.payload as { head_content: string; list: { id: string; content: string }[]; tail_content: string };
    t.equal(menu.head_content, CSAT_TEXT);
    t.same(
      menu.list.map((o) => o.content),
      ['1', '2', '3', '4', '5'],
    );
    t.equal(new Set(menu.list.map((o) => o.id)).size, 5, 'each score its own id');
    const close = menu.list[0]!.id.slice(1, 9);
    t.match(await redis.hgetall(keys.csat(close)), { openid: c.openid, agent: c.agent }, 'the close is recorded with its customer and agent');
    t.equal(await load(), open - 1);

    const reached = c.reachedAgents();
    const before = { four: await answers(relay, 4), two: await answers(relay, 2), pushes: await ratingPushes(relay) };
    const tapped = await relay.wechat.push(relay.wechat.menuTap(c.openid, menu.list[3]!.id, '4'));
    t.equal(tapped.status, 200);
    await eventually('the tap is counted', async () => (await answers(relay, 4)) === before.four + 1);
    t.match(await redis.hgetall(keys.csat(close)), { score: '4' }, 'the score is recorded against the close');

    // A second tap on the same question, and a tap on a question the relay does not know, count nothing.
    await relay.wechat.push(relay.wechat.menuTap(c.openid, menu.list[1]!.id, '2'));
    await relay.wechat.push(relay.wechat.menuTap(c.openid, ratingOptionId('99999998', 5), '5'));
    await eventually('all three taps are handled', async () => (await ratingPushes(relay)) === before.pushes + 3);
    t.equal(await answers(relay, 4), before.four + 1, 'counted once');
    t.equal(await answers(relay, 2), before.two, 'the second tap is not counted');
    t.equal(await redis.hget(keys.csat(close), 'score'), '4', 'the first answer stands');

    t.equal(c.reachedAgents(), reached, 'no tap reached an agent');
    t.equal(await load(), open - 1, 'no conversation opened');
    t.equal(await redis.hget(keys.customer(c.openid), 'counted'), '0', 'the conversation stays closed');
    t.equal(await redis.zscore(keys.deskWaiting, c.openid), null, 'not waiting for an agent');
    t.equal(relay.wechatApi.sentTo(c.openid).length, 1, 'nothing more went to the customer');
  });

  t.test('a question that cannot be sent is skipped: the /close stands and the agent is told why', async (t) => {
    const c = await conversation(relay);
    // The customer's message allows five replies: the agent uses them all.
    for (let i = 1; i <= 5; i++) await c.says(`Answer ${i}`);
    await relay.waitForSent(c.openid, 5);
    await c.says('/close');
    t.match(await c.notice(/Conversation closed/), /was not asked to rate it: the reply quota for this window is used up/);
    t.equal(await redis.hget(keys.customer(c.openid), 'counted'), '0', 'closed all the same');
    t.same(
      relay.wechatApi.sentTo(c.openid).map((m) => m.msgtype),
      ['text', 'text', 'text', 'text', 'text'],
      'no menu was tried',
    );
  });

  t.test('a /close that failed after it closed, before it asked, asks on its retry, once', async (t) => {
    const c = await conversation(relay);
    // The step after the close fails once: the list of unanswered conversations is, for a moment,
    // not a list (Redis answers WRONGTYPE), as a Redis failing there would.
    const unanswered = keys.deskUnanswered;
    const kept = `${unanswered}:kept-by-test`;
    if ((await redis.exists(unanswered)) === 1) await redis.rename(unanswered, kept);
    await redis.set(unanswered, 'not a list');
    const restore = async () => {
      await redis.del(unanswered);
      if ((await redis.exists(kept)) === 1) await redis.rename(kept, unanswered);
    };
    t.teardown(restore);
    const sent = await c.says('/close');
    await eventually(
      'the first attempt fails after closing',
      async () => ((await relay.pusher.queue.getJob(replyJobId(sent.msgKey)))?.attemptsMade ?? 0) >= 1,
      10_000,
    );
    t.equal(await redis.hget(keys.customer(c.openid), 'counted'), '0', 'it had closed');
    await restore();
    t.match(await c.notice(/Conversation closed/), /The customer was asked to rate it\./, 'the retry asks');
    const [question, ...more] = await relay.waitForSent(c.openid, 1);
    t.equal(question!.msgtype, 'msgmenu');
    t.same(more, [], 'asked once');
  });

  t.test('a question that meets another send asking WeChat whether the quota is back waits for that answer', async (t) => {
    const api = 'message/custom/send';
    t.teardown(() => relay.wechatApi.clearScripted());
    const calls = () => relay.wechatApi.stats.calls[api] ?? 0;
    const before = calls();
    // Another customer's reply meets the used-up quota; 300 ms on, it asks again, and WeChat takes 3 s to answer.
    relay.wechatApi.failNext(api, 45009, 1, 'reach max api daily quota limit');
    relay.wechatApi.answerLate(api, 3000);
    const other = await conversation(relay);
    await other.says('Your order has shipped');
    await eventually('the reply asks WeChat again', () => calls() === before + 2, 10_000);
    const c = await conversation(relay);
    await c.says('/close');
    t.match(await c.notice(/Conversation closed/), /The customer was asked to rate it\./, 'asked once the answer came');
    const [question] = await relay.waitForSent(c.openid, 1);
    t.equal(question!.msgtype, 'msgmenu');
    t.same(
      relay.wechatApi.sentTo(other.openid).map((m) => m.payload['content']),
      ['Your order has shipped'],
      'the reply that asked went, once',
    );
  });
});

t.test('without CSAT_TEXT /close asks nothing', async (t) => {
  const relay = await twoWayForTests(t);
  const c = await conversation(relay);
  await c.says('/close');
  const notice = await c.notice(/Conversation closed/);
  t.notMatch(notice, /rate/, 'the notice says nothing of a rating');
  t.equal(relay.wechatApi.sentTo(c.openid).length, 0, 'nothing reached the customer');
});
