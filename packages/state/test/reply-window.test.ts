import { ReplyWindow, stateKeys } from '@wxim/state';
import { testPrefix, testRedisConnection } from '@wxim/testkit';
import t from 'tap';

const { redis } = await testRedisConnection(t);

const HOUR = 60 * 60 * 1000;
const t0 = Date.now();

function setup() {
  const keys = stateKeys(testPrefix());
  return { keys, window: new ReplyWindow(redis, keys) };
}

async function sendAll(window: ReplyWindow, openid: string, nowMs: number): Promise<number> {
  let sent = 0;
  while ((await window.check(openid, nowMs)).open) {
    await window.consume(openid, nowMs);
    sent++;
  }
  return sent;
}

t.test('a customer never seen has no window', async (t) => {
  const { window } = setup();
  t.same(await window.check('o1', t0), { open: false, reason: 'never' });
  t.equal(await window.consume('o1', t0), 0);
});

t.test('a message allows 5 replies, then the quota is used', async (t) => {
  const { window } = setup();
  t.equal(await window.record('o1', 'message', t0), true);
  t.same(await window.check('o1', t0 + 1000), { open: true, remaining: 5, deadline: t0 + 48 * HOUR, lastActionAt: t0 });
  t.equal(await sendAll(window, 'o1', t0 + 1000), 5);
  t.same(await window.check('o1', t0 + 2000), { open: false, reason: 'quota_used' });
  t.equal(await window.consume('o1', t0 + 2000), 0, 'never below 0');
});

t.test('a follow allows 3 replies within a minute', async (t) => {
  const { window } = setup();
  await window.record('o1', 'action', t0);
  t.equal(await sendAll(window, 'o1', t0 + 30_000), 3);
  t.same(await window.check('o1', t0 + 30_000), { open: false, reason: 'quota_used' });
  await window.record('o2', 'action', t0);
  t.match(await window.check('o2', t0 + 59_999), { open: true, remaining: 3 });
  t.same(await window.check('o2', t0 + 60_000), { open: false, reason: 'window_closed' });
});

t.test('a message window closes after 48 hours, replies left or not', async (t) => {
  const { window, keys } = setup();
  await window.record('o1', 'message', t0);
  await window.consume('o1', t0 + HOUR);
  t.match(await window.check('o1', t0 + 48 * HOUR - 1), { open: true, remaining: 4 });
  t.same(await window.check('o1', t0 + 48 * HOUR), { open: false, reason: 'window_closed' });
  t.equal(await window.consume('o1', t0 + 48 * HOUR), 0, 'nothing to consume in a closed window');
  const ttl = await redis.pttl(keys.replyWindow('o1'));
  t.ok(ttl > 48 * HOUR && ttl <= 48 * HOUR + 60_000, 'the key lives just past the deadline');
});

t.test('a follow after a message does not shorten the 48 h window', async (t) => {
  const { window } = setup();
  await window.record('o1', 'message', t0);
  for (let i = 0; i < 4; i++) await window.consume('o1', t0 + HOUR);
  await window.record('o1', 'action', t0 + 2 * HOUR);
  t.same(await window.check('o1', t0 + 2 * HOUR), { open: true, remaining: 3, deadline: t0 + 48 * HOUR, lastActionAt: t0 + 2 * HOUR }, 'the larger of each');
  t.match(await window.check('o1', t0 + 40 * HOUR), { open: true, remaining: 3 }, 'still open long after the follow’s minute');
});

t.test('a message after a follow raises the quota to 5 for 48 hours', async (t) => {
  const { window } = setup();
  await window.record('o1', 'action', t0);
  await window.consume('o1', t0 + 1000);
  t.match(await window.check('o1', t0 + 1000), { remaining: 2 });
  await window.record('o1', 'message', t0 + 10_000);
  t.same(await window.check('o1', t0 + 20_000), { open: true, remaining: 5, deadline: t0 + 10_000 + 48 * HOUR, lastActionAt: t0 + 10_000 });
});

t.test('an action recorded again changes nothing, and an older one gives back no reply already sent', async (t) => {
  const { window } = setup();
  await window.record('o1', 'message', t0);
  t.equal(await sendAll(window, 'o1', t0 + 1000), 5);
  t.equal(await window.record('o1', 'message', t0), false, 'the same message again');
  await window.record('o1', 'action', t0 - 5000, 'follow');
  t.same(
    await window.check('o1', t0 + 2000),
    { open: false, reason: 'quota_used' },
    'an older follow arriving late: its replies were spent, as WeChat counted them',
  );
  t.equal(await window.record('o1', 'message', t0 + 3000), true, 'a new message');
  t.match(await window.check('o1', t0 + 3000), { open: true, remaining: 5 });
});

t.test('WeChat’s 45047 exhausts the window and 45015 closes it, until the customer acts again', async (t) => {
  const { window, keys } = setup();
  await window.record('o1', 'message', t0);
  await window.exhaust('o1');
  t.same(await window.check('o1', t0 + 1000), { open: false, reason: 'quota_used' });
  await window.record('o1', 'message', t0 + 2000);
  await window.close('o1');
  t.same(await window.check('o1', t0 + 3000), { open: false, reason: 'window_closed' });
  await window.record('o1', 'action', t0 + 4000);
  t.match(await window.check('o1', t0 + 5000), { open: true, remaining: 3, deadline: t0 + 64_000 }, 'a closed window leaves nothing to carry over');

  const seen = await window.check('o1', t0 + 5000);
  await window.record('o1', 'message', t0 + 6000); // the customer wrote while the send was failing
  await window.exhaust('o1', seen.open ? seen.lastActionAt : undefined);
  await window.close('o1', seen.open ? seen.lastActionAt : undefined);
  t.match(await window.check('o1', t0 + 7000), { open: true, remaining: 5 }, 'a refusal of the earlier window leaves the newer one alone');

  await window.exhaust('o9');
  await window.close('o9');
  t.equal(await redis.exists(keys.replyWindow('o9')), 0, 'no window is made up for a customer never seen');
});

t.test('a second message in the same second opens the quota again; the same message recorded twice does not', async (t) => {
  const { window } = setup();
  const at = 1_700_000_000_000;
  await window.record('o1', 'message', at, 'm1');
  for (let i = 0; i < 5; i++) await window.consume('o1', at + 10);
  t.match(await window.check('o1', at + 20), { open: false, reason: 'quota_used' });
  t.equal(await window.record('o1', 'message', at, 'm1'), false, 'a retried push gives nothing back');
  t.match(await window.check('o1', at + 20), { open: false, reason: 'quota_used' });
  t.equal(await window.record('o1', 'message', at, 'm2'), true, 'another message of that second');
  t.match(await window.check('o1', at + 20), { open: true, remaining: 5 });
});

t.test('an older action recorded after a newer one (its push stored later) widens the window as WeChat counted it, once', async (t) => {
  const { window } = setup();
  // A menu click at t0 + 1 s is taken first; the customer's message of t0 reaches its turn after.
  t.equal(await window.record('o1', 'action', t0 + 1000, 'click'), true);
  t.equal(await window.record('o1', 'message', t0, 'text'), true, 'the older message is recorded');
  t.same(
    await window.check('o1', t0 + 120_000),
    { open: true, remaining: 5, deadline: t0 + 48 * HOUR, lastActionAt: t0 + 1000 },
    "the message's 48 h and 5 replies",
  );
  await window.consume('o1', t0 + 130_000);
  t.equal(await window.record('o1', 'message', t0, 'text'), false, 'the same message again (a retried job) gives nothing back');
  t.match(await window.check('o1', t0 + 140_000), { open: true, remaining: 4 });

  // A reply went on the click's grant before the older message was recorded: WeChat counted it against the message's 5.
  const spent = setup().window;
  await spent.record('o1', 'action', t0 + 1000, 'click');
  await spent.consume('o1', t0 + 2000);
  await spent.record('o1', 'message', t0, 'text');
  t.match(await spent.check('o1', t0 + 3000), { open: true, remaining: 4, deadline: t0 + 48 * HOUR }, 'five less the one sent');
});

t.test('an older action counts every reply sent since a later action was recorded, however many records came between', async (t) => {
  const { window } = setup();
  // Two clicks, a reply after each; then the message of t0, older than both, is recorded.
  await window.record('o1', 'action', t0 + 1000, 'click1');
  await window.consume('o1', t0 + 1500);
  await window.record('o1', 'action', t0 + 2000, 'click2');
  await window.consume('o1', t0 + 2500);
  await window.record('o1', 'message', t0, 'text');
  t.match(await window.check('o1', t0 + 3000), { open: true, remaining: 3, deadline: t0 + 48 * HOUR }, 'five less the two sent since');
});

t.test('an older action gives nothing back once WeChat found the window used up (45047)', async (t) => {
  const { window } = setup();
  await window.record('o1', 'action', t0 + 1000, 'click');
  await window.exhaust('o1');
  t.equal(await window.record('o1', 'message', t0, 'text'), false, 'not recorded');
  t.same(await window.check('o1', t0 + 2000), { open: false, reason: 'quota_used' });
  await window.record('o1', 'message', t0 + 3000, 'later');
  t.match(await window.check('o1', t0 + 4000), { open: true, remaining: 5 }, 'a newer action opens it again');
});

t.test('an older action does not reopen a window WeChat closed, nor one older than ten minutes before the newest', async (t) => {
  const { window } = setup();
  await window.record('o1', 'action', t0 + 1000, 'click');
  await window.close('o1');
  await window.record('o1', 'message', t0, 'text');
  t.same(await window.check('o1', t0 + 2000), { open: false, reason: 'window_closed' }, 'closed by WeChat (45015), which knew of the older message');
  const old = setup().window;
  await old.record('o1', 'action', t0, 'click');
  t.equal(await old.record('o1', 'message', t0 - 11 * 60_000, 'text'), false, 'older than the ids kept: changes nothing');
  t.match(await old.check('o1', t0 + 1000), { open: true, remaining: 3, deadline: t0 + 60_000 });
});

t.test("an action's id that holds the record's separators (',' or '@') is still known when recorded again", async (t) => {
  const { window } = setup();
  await window.record('o1', 'action', t0 + 1000, 'click');
  t.equal(await window.record('o1', 'message', t0, 'odd,id@1@2'), true);
  t.equal(await window.record('o1', 'message', t0, 'odd,id@1@2'), false, 'the same older message again');
  t.match(await window.check('o1', t0 + 2000), { open: true, remaining: 5 });
});
