import { fakeOpenId } from '@wxim/sandbox';
import { Redis } from 'ioredis';
import t from 'tap';
import { AGENTS, eventually, relayForTests, textOf } from '@wxim/testkit';

const relay = await relayForTests(t);
const { wechat, im } = relay;

t.test('a follow imports the customer and tells their agent', async (t) => {
  const openid = fakeOpenId();
  const before = im.messages.length;
  const res = await wechat.push(wechat.follow(openid));
  t.equal(res.status, 200);
  const [note] = (await relay.waitForMessages(before + 1)).slice(before);
  t.ok(im.accounts.has(openid), 'imported with UserID = openid');
  t.equal(note!.from, openid);
  t.ok(AGENTS.includes(note!.to));
  t.match(textOf(note!), /followed/);
  t.same(note!.forbidCallbackControl, ['ForbidBeforeSendMsgCallback', 'ForbidAfterSendMsgCallback']);
});

t.test('a text with emoji, CJK, <&> and newlines arrives byte-identical, with its WeChat context', async (t) => {
  const openid = fakeOpenId();
  const content = '你好 👋🏽 <b>&amp;</b> ]]> "quotes"\nline two\n\n  trailing  ';
  const before = im.messages.length;
  const push = wechat.text(openid, content);
  t.equal((await wechat.push(push)).status, 200);
  const [m] = (await relay.waitForMessages(before + 1)).slice(before);
  t.equal(textOf(m!), content);
  t.same(JSON.parse(m!.cloudCustomData!), {
    source: 'wechat',
    openid,
    type: 'text',
    msgId: push.kind === 'text' ? push.msgId : '',
    createTime: push.createTime,
  });
  t.ok(im.accounts.has(openid), 'a customer never seen before is imported on first sight');
});

t.test("messages of one second keep their order in IM's history, which sorts a second by MsgSeq", async (t) => {
  const openid = fakeOpenId();
  const texts = Array.from({ length: 8 }, (_, i) => `quick message ${i}`);
  const before = im.messages.length;
  for (const text of texts) t.equal((await wechat.push(wechat.text(openid, text))).status, 200);
  await relay.waitForMessages(before + texts.length);
  const got = im.messagesBetween(openid);
  t.same(got.map(textOf), texts, 'in order as they arrived');
  t.same(im.historyBetween(openid).map(textOf), texts, "in order in IM's history");
  const seconds = new Set(got.map((m) => Math.floor(m.receivedAt / 1000)));
  t.ok(seconds.size < texts.length, `several shared a second (${texts.length} messages in ${seconds.size} seconds)`);
});

t.test(
  'a text longer than IM takes in one message (8 KB) reaches the agent whole, in parts in order, each in a second of its own; the next message after it',
  async (t) => {
    const openid = fakeOpenId();
    const long = Array.from({ length: 40 }, (_, i) => `第${i + 1}段：我收到的商品有问题，包装破损，里面的东西也坏了，希望尽快处理退货和退款。`.repeat(3)).join(
      '\n',
    );
    t.ok(Buffer.byteLength(long) > 9000, `${Buffer.byteLength(long)} bytes`);
    t.equal((await wechat.push(wechat.text(openid, long))).status, 200);
    t.equal((await wechat.push(wechat.text(openid, 'and one more thing'))).status, 200);
    await eventually('the next message arrives', () => im.messagesBetween(openid).some((m) => textOf(m) === 'and one more thing'), 20_000);
    const got = im.messagesBetween(openid);
    const parts = got.slice(0, -1);
    t.ok(parts.length >= 2, `${parts.length} parts`);
    t.equal(parts.map(textOf).join(''), long, 'the text whole, its parts in order');
    t.equal(textOf(got.at(-1)!), 'and one more thing', 'the next message after it');
    const seconds = parts.map((m) => Math.floor(m.receivedAt / 1000));
    t.ok(
      seconds.every((s, i) => i === 0 || s > seconds[i - 1]!),
      "each part in a later second: IM's history keeps them in order",
    );
  },
);

t.test('a long text whose customer is handed on between its parts is never split between two agents', async (t) => {
  const openid = fakeOpenId();
  const long = '请帮我看看这个订单的问题，'.repeat(800);
  t.equal((await wechat.push(wechat.text(openid, long))).status, 200);
  await eventually('the first part reaches an agent', () => im.messagesBetween(openid).length === 1, 20_000);
  const first = im.messagesBetween(openid)[0]!;
  // As a /transfer or a first answer overdue would, while the rest waits its second.
  const redis = new Redis(relay.redisUrl);
  t.teardown(() => redis.disconnect());
  const other = AGENTS.find((a) => a !== first.to)!;
  await redis.hset(`${relay.env['QUEUE_PREFIX']}:customer:${openid}`, 'agent', other);
  await wechat.push(wechat.text(openid, 'after the long one'));
  await eventually('the next message arrives', () => im.messagesBetween(openid).some((m) => textOf(m) === 'after the long one'), 30_000);
  const got = im.messagesBetween(openid);
  const textTo = (agent: string) =>
    got
      .slice(0, -1)
      .filter((m) => m.to === agent)
      .map(textOf)
      .join('');
  t.equal(textTo(first.to).length, long.length, 'the agent it began with has it whole');
  t.ok(textTo(first.to) === long, 'in order');
  // A hand-on that lands while a message is on its way: the new agent gets it too (see docs/desk.md), whole.
  t.ok(textTo(other) === long, 'the agent who serves the customer now has it whole, not from its middle');
  t.equal(got.at(-1)!.to, other, 'the next message to the agent who serves the customer now');
});

t.test('a repeated MsgId arrives once', async (t) => {
  const openid = fakeOpenId();
  const signed = wechat.sign(wechat.text(openid, 'only once'));
  const before = im.messages.length;
  for (let i = 0; i < 3; i++) t.equal((await wechat.post(signed)).status, 200);
  await relay.waitForMessages(before + 1);
  const marker = wechat.text(openid, 'after');
  await wechat.push(marker);
  await relay.waitForMessages(before + 2);
  t.same(im.messagesBetween(openid).map(textOf), ['only once', 'after']);
});

t.test('two openids that differ only where IM allows no character write from two IM accounts', async (t) => {
  const slash = 'oCollide/x0000000000000000000';
  const underscore = 'oCollide_x0000000000000000000';
  const before = im.messages.length;
  t.equal((await wechat.push(wechat.text(slash, 'from the one with a slash'))).status, 200);
  t.equal((await wechat.push(wechat.text(underscore, 'from the one with an underscore'))).status, 200);
  const [a, b] = (await relay.waitForMessages(before + 2)).slice(before);
  t.equal(b!.from, underscore, 'an openid that is a valid UserID stays itself');
  t.not(a!.from, b!.from, 'two accounts');
  t.match(a!.from, /^[A-Za-z0-9_-]{1,32}$/);
  t.same((JSON.parse(a!.cloudCustomData!) as { openid: string }).openid, slash, "the agent's tools still see the openid");
  const redis = new Redis(relay.redisUrl);
  t.teardown(() => redis.disconnect());
  t.equal(await redis.hget(`${relay.env['QUEUE_PREFIX']}:openid-of`, a!.from), slash, 'and the relay maps the account back to it');
});
