import { fakeOpenId, paceOf } from '@wxim/sandbox';
import t from 'tap';
import { type TestAccount, eventually, startAccountsRelay, startTestRedis, textOf } from '@wxim/testkit';

// Several Official Accounts on one relay with IM's real limit (200 calls/s per command) and the
// default configuration (IM_RATE_LIMIT 180): one account's backlog is its own, and accounts that
// share an IM app share its pace.
const CAP = 180;
const redis = await startTestRedis();
t.teardown(() => redis.close());

/** `count` pushes from `customers` customers of `account`, `parallel` at a time; every one acknowledged. */
async function backlog(account: TestAccount, count: number, customers: number, parallel = 50): Promise<void> {
  const openids = Array.from({ length: customers }, fakeOpenId);
  let next = 0;
  const statuses = new Set<number>();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let i = next++; i < count; i = next++) {
        const openid = openids[i % customers]!;
        statuses.add((await account.wechat.push(account.wechat.text(openid, `backlog ${i}`))).status);
      }
    }),
  );
  if (statuses.size !== 1 || !statuses.has(200)) throw new Error(`the gateway answered ${[...statuses].join(', ')}`);
}

const relayedOf = (account: TestAccount, prefix: string) => account.im.messages.filter((m) => textOf(m).startsWith(prefix)).length;

t.test("a backlog of 3,000 on one account does not hold up another's messages", async (t) => {
  const relay = await startAccountsRelay(redis.url, ['busy', 'quiet']);
  t.teardown(() => relay.close());
  const [busy, quiet] = [relay.account('busy'), relay.account('quiet')];
  await backlog(busy, 3000, 300);
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

t.test("accounts that share an IM app share its pace: never over IM_RATE_LIMIT together, and the app's whole budget used", async (t) => {
  const relay = await startAccountsRelay(redis.url, ['one', 'two'], { sharedIm: true });
  t.teardown(() => relay.close());
  const [one, two] = [relay.account('one'), relay.account('two')];
  const im = one.im;
  t.equal(two.im, im, 'one IM app');
  const since = Date.now();
  await Promise.all([backlog(one, 700, 100, 25), backlog(two, 700, 100, 25)]);
  await eventually('both backlogs are relayed', () => im.messages.length >= 1400, 30_000, 100);
  const pace = paceOf(im.callsPerSecond(), 'openim/sendmsg', since);
  t.ok(pace.seconds.length >= 4, `${pace.seconds.length} whole seconds measured`);
  t.ok(pace.max <= CAP * 1.05, `never over ${CAP} sendmsg/s together (5% for calls in flight): ${pace.seconds.join(', ')}`);
  t.ok(pace.mean >= 0.9 * CAP, `${pace.mean.toFixed(1)} sendmsg/s on average, at least 90% of ${CAP} (the relay, both backlogs and IM in one process)`);
  t.equal(im.stats.rateLimited, 0, 'IM never answered 60007');
  t.equal(relayedOf(one, 'backlog '), 1400, 'each once, from both accounts');
});
