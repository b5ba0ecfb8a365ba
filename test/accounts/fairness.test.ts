import { fakeOpenId } from '@wxim/sandbox';
import t from 'tap';
import { type TestAccount, eventually, pushBacklog, startAccountsRelay, startTestRedis, textOf } from '@wxim/testkit';

// Several Official Accounts on one relay with IM's real limit (200 calls/s per command) and the
// default configuration: one account's backlog is its own.
const redis = await startTestRedis();
t.teardown(() => redis.close());

const relayedOf = (account: TestAccount, prefix: string) => account.im.messages.filter((m) => textOf(m).startsWith(prefix)).length;

t.test("a backlog of 3,000 on one account does not hold up another's messages", async (t) => {
  const relay = await startAccountsRelay(redis.url, ['busy', 'quiet']);
  t.teardown(() => relay.close());
  const [busy, quiet] = [relay.account('busy'), relay.account('quiet')];
  await pushBacklog(busy, 3000, 300);
  // 20 pushes/s on the quiet account for 5 s, each from a customer of its own, while the busy
  // account's backlog drains at its IM app's pace (about 17 s of it).
  const sentAt = new Map<string, number>();
  for (let i = 0; i < 100; i++) {
    const openid = fakeOpenId();
    sentAt.set(openid, Date.now());
    const res = await quiet.wechat.push(quiet.wechat.text(openid, `quiet ${i}`));
    t.equal(res.status, 200);
    await new Promise((r) => setTimeout(r, Math.max(0, sentAt.get(openid)! + 50 - Date.now())));
  }
  await eventually('the quiet account has all 100', () => quiet.im.messages.length >= 100, 10_000);
  const busyLeft = 3000 - relayedOf(busy, 'backlog ');
  const e2e = quiet.im.messages.map((m) => m.receivedAt - [...sentAt].find(([openid]) => m.cloudCustomData?.includes(openid))![1]).sort((a, b) => a - b);
  const p99 = e2e[Math.ceil(e2e.length * 0.99) - 1]!;
  t.ok(busyLeft >= 500, `the busy account still had ${busyLeft} messages to relay when the quiet one's were all through`);
  // The benchmark holds the 100 ms target on a quiet machine; here, beside the rest of the suite,
  // a second still tells "went ahead" from "waited its turn behind the backlog" (many seconds).
  t.ok(p99 <= 1000, `the quiet account's end-to-end p99 ${p99} ms (p50 ${e2e[49]} ms)`);
  await eventually('the busy account relays its whole backlog', () => busy.im.messages.length >= 3000, 60_000, 200);
  t.equal(busy.im.messages.length, 3000, 'each once');
  t.equal(quiet.im.messages.length, 100, 'each once');
});
