import { decodeRelayCustomData, textElem } from '@wxim/im';
import { keyPrefix } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { Redis } from 'ioredis';
import t from 'tap';
import { eventually, metricValue, replyHeldWhile, textOf, twoWayForTests } from '@wxim/testkit';

// The warning comes this long after a customer's message, rather than 2 hours before its 48-hour
// window closes: WINDOW_WARNING_MS as large as the window, less LEAD_MS. Real times throughout.
const LEAD_MS = 6000;
const relay = await twoWayForTests(t, { env: { WINDOW_WARNING_MS: String(48 * 3_600_000 - LEAD_MS) }, pusher: { windowCheckEveryMs: 200 } });
const { im } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const keys = stateKeys(keyPrefix(relay.env['QUEUE_PREFIX']!, false));

/** The texts of the relay's notices to `agent` in the customer's conversation, with that reason. */
const notices = (userId: string, agent: string, reason: string) =>
  im
    .messagesBetween(userId, agent)
    .filter((m) => {
      const data = decodeRelayCustomData(m.cloudCustomData);
      return data?.source === 'relay-notice' && data.reason === reason;
    })
    .map(textOf);
const lastReplyNotices = (c: { userId: string; agent: string }) => notices(c.userId, c.agent, 'window-last-reply');
const warnings = (c: { userId: string; agent: string }) => notices(c.userId, c.agent, 'window-closing');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Past the moment a message written now would be warned of, and a few checks more. */
const pastWarningTime = () => sleep(LEAD_MS + 2000);

t.test("the fifth reply of a customer's message brings the last-reply notice, once; the sixth is refused", async (t) => {
  const c = await relay.newCustomer();
  const firstSecond = Math.floor(Date.now() / 1000);
  for (let i = 1; i <= 5; i++) await im.agentSend(c.agent, c.userId, [textElem(`reply ${i}`)]);
  await relay.waitForSent(c.openid, 5);
  await eventually('the agent is told it was the last reply', () => lastReplyNotices(c).length > 0);
  t.same(lastReplyNotices(c), ['⏳ Relay notice — that was the last reply WeChat allows until the customer writes again.']);

  await im.agentSend(c.agent, c.userId, [textElem('reply 6')]);
  await eventually('the sixth comes back as not delivered', () => im.messagesBetween(c.userId, c.agent).some((m) => /reply 6.*used up/.test(textOf(m))));
  t.equal(relay.textsTo(c.openid).length, 5, 'five delivered');
  t.equal(lastReplyNotices(c).length, 1, 'told once');

  // The customer writes again: five more, and the last of them told again. WeChat's CreateTime is
  // in seconds, and a window is told apart by its deadline: a message in the very second of the
  // first (here, where five replies take well under one) would keep the first's deadline.
  await eventually('a second later than the first message', () => Math.floor(Date.now() / 1000) > firstSecond, 2000);
  await relay.customerWrites(c.openid, 'one more question');
  for (let i = 7; i <= 11; i++) await im.agentSend(c.agent, c.userId, [textElem(`reply ${i}`)]);
  await relay.waitForSent(c.openid, 10);
  await eventually('told again for the new message', () => lastReplyNotices(c).length === 2);
  t.same(warnings(c), [], 'an answered message brings no warning');
});

t.test('a window closing with the last message unanswered is warned of once; an answered one is not', async (t) => {
  const [late, answered] = [await relay.newCustomer(), await relay.newCustomer()];
  await im.agentSend(answered.agent, answered.userId, [textElem('Hello, how can I help?')]);
  await relay.waitForSent(answered.openid, 1);

  await eventually('the agent of the unanswered customer is warned', () => warnings(late).length > 0, LEAD_MS + 5000);
  t.match(warnings(late), [
    /^⏳ Relay notice — this customer's last message is still unanswered, and WeChat lets the account answer them until .+ \(Asia\/Shanghai\); after that, only once they write again\.$/,
  ]);
  await pastWarningTime();
  t.equal(warnings(late).length, 1, 'warned once, however many checks');
  t.same(warnings(answered), [], 'the answered customer brings no warning');
  t.equal(await redis.zscore(keys.windowWatch, late.openid), null, 'no longer watched');

  // A new message resets it: answered, no new warning…
  await relay.customerWrites(late.openid, 'are you there?');
  await im.agentSend(late.agent, late.userId, [textElem('Yes, sorry for the wait.')]);
  await relay.waitForSent(late.openid, 1);
  await pastWarningTime();
  t.equal(warnings(late).length, 1, 'no warning for an answered message');

  // …and the next one, left unanswered, is warned of again.
  await relay.customerWrites(late.openid, 'hello?');
  await eventually('warned again for the new unanswered message', () => warnings(late).length === 2, LEAD_MS + 5000);
  await pastWarningTime();
  t.equal(warnings(late).length, 2, 'still once per message');
  t.same(lastReplyNotices(late), [], 'no other window notice');
});

t.test("an answer sent before the customer's next message and delivered after it does not answer that one: it is warned of", async (t) => {
  const c = await relay.newCustomer();
  await replyHeldWhile(
    im,
    c,
    () => im.agentSend(c.agent, c.userId, [textElem('About your first question…')]),
    () => relay.customerWrites(c.openid, 'And another thing'),
  );
  await relay.waitForSent(c.openid, 1);
  await eventually('the agent is warned of the unanswered second message', () => warnings(c).length > 0, LEAD_MS + 5000);
  t.equal(warnings(c).length, 1);
});

t.test("a closed conversation's agent is not warned", async (t) => {
  const c = await relay.newCustomer();
  await im.agentSend(c.agent, c.userId, [textElem('/close')]);
  await eventually('the conversation closes', async () => (await redis.hget(keys.customer(c.openid), 'counted')) === '0');
  await pastWarningTime();
  t.same(warnings(c), []);
});

t.test("a warning IM refuses for good (the customer's account deleted) is not tried again, and never holds up another's", async (t) => {
  const metric = async (outcome: string) => (await metricValue(relay.pusher.app, `wxim_pusher_window_warnings_total{outcome="${outcome}"}`)) ?? 0;
  // The refused one first: its window closes first, so each check meets it before the other.
  const refused = await relay.newCustomer();
  const other = await relay.newCustomer();
  const before = await metric('refused');
  im.accounts.delete(refused.userId);
  await eventually("the other customer's agent is warned", () => warnings(other).length === 1, LEAD_MS + 5000);
  await eventually('the refusal is counted', async () => (await metric('refused')) === before + 1);
  t.equal(await redis.zscore(keys.windowWatch, refused.openid), null, 'the refused window is no longer watched');
  await sleep(1000);
  t.equal(await metric('refused'), before + 1, 'not tried again at the next checks');
  t.same(warnings(refused), [], 'nothing reached IM for the deleted account');
});
