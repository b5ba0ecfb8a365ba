import { fakeOpenId } from '@wxim/sandbox';
import t from 'tap';
import { eventually, relayForTests, textOf } from '@wxim/testkit';

const WAIT_MS = 800;
const relay = await relayForTests(t, { worker: { waitMs: WAIT_MS } });
// A job that waits its turn here would sleep a minute unless the job before it wakes it.
const patient = await relayForTests(t, { worker: { waitMs: 60_000 } });

t.test('a job waiting its turn wakes by itself when nobody wakes it (its head removed from the dashboard)', async (t) => {
  const { wechat, im } = relay;
  const queue = relay.gateway.gateway.queue;
  const openid = fakeOpenId();
  // The head keeps failing (IM busy), so it holds its place and retries.
  im.failNext('openim/sendmsg', 90994, 10_000);
  const first = wechat.text(openid, 'stuck at the head');
  const second = wechat.text(openid, 'waits its turn');
  const idOf = (m: typeof first) => `m-${openid}-${m.kind === 'text' ? m.msgId : ''}`;
  t.equal((await wechat.push(first)).status, 200);
  await eventually('the head has tried once', async () => ((await queue.getJob(idOf(first)))?.attemptsMade ?? 0) >= 1);
  t.equal((await wechat.push(second)).status, 200);
  await eventually('the second has stepped aside', async () => (await queue.getJob(idOf(second)))?.getState().then((s) => s === 'delayed') ?? false);

  // An operator removes the head. No relay finishes it, so nothing wakes the second job: only
  // its own timer (waitMs) can.
  await eventually('the head is removed', async () => {
    const head = await queue.getJob(idOf(first));
    return (
      head === undefined ||
      (await head.remove().then(
        () => true,
        () => false, // active at this moment (locked): try again
      ))
    );
  });
  im.clearScripted();
  const removedAt = Date.now();
  await relay.waitForMessages(1, WAIT_MS + 10_000);
  const waited = Date.now() - removedAt;
  t.same(im.messagesBetween(openid).map(textOf), ['waits its turn'], 'relayed once; the removed head never was');
  t.ok(waited <= WAIT_MS + 5000, `woke by itself within its wait (${waited} ms after the removal; waitMs ${WAIT_MS})`);
  // IM has it; the job completes right after (BullMQ's own round trip).
  await eventually('the second job completes', async () => (await (await queue.getJob(idOf(second)))?.getState()) === 'completed');
  t.pass('the second job completed');
});

t.test('the job before it wakes a job waiting its turn as soon as it is relayed', async (t) => {
  const { wechat, im } = patient;
  const queue = patient.gateway.gateway.queue;
  const openid = fakeOpenId();
  im.failNext('openim/sendmsg', 90994, 5); // the head retries for ~1.5 s (50 ms backoff, doubling)
  const first = wechat.text(openid, 'first, after a few retries');
  const second = wechat.text(openid, 'second, woken by the first');
  t.equal((await wechat.push(first)).status, 200);
  t.equal((await wechat.push(second)).status, 200);
  const secondId = `m-${openid}-${second.kind === 'text' ? second.msgId : ''}`;
  await eventually('the second has stepped aside', async () => ((await (await queue.getJob(secondId))?.getState()) ?? '') === 'delayed');
  const started = Date.now();
  await patient.waitForMessages(2, 10_000);
  t.same(im.messagesBetween(openid).map(textOf), ['first, after a few retries', 'second, woken by the first'], 'in order, once each');
  t.ok(Date.now() - started < 10_000, 'woken long before its own one-minute timer');
});
