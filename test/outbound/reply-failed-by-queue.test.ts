import { fileURLToPath } from 'node:url';
import { textElem } from '@wxim/im';
import { keyPrefix, replyJobId } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { eventually, freePort, runService, twoWayForTests, whenReady } from '@wxim/testkit';
import { Redis } from 'ioredis';
import t from 'tap';

// A reply whose pusher dies on it again and again (killed for its memory on each try, say) is
// failed by BullMQ itself once it stalled more than the host's maxStalledCount (10): not by the
// relay's decision, so no attempt of the relay's says its last word. Its agent is told all the same.
const PUSHER = fileURLToPath(new URL('../../services/wechat-pusher/dist/main.js', import.meta.url));
const relay = await twoWayForTests(t, { startPusher: false, env: { WORKER_STALL_MS: '1000' } });
const { im, wechatApi } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const prefix = keyPrefix(relay.env['QUEUE_PREFIX']!, false);
const keys = stateKeys(prefix);

t.test('a reply BullMQ fails after too many stalls is told to its agent, as one that may have arrived', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  const port = await freePort();
  const dying = runService(PUSHER, { ...relay.env, PUSHER_PORT: String(port), WORKER_STALL_MS: '1000' });
  await whenReady(port, dying.child);
  t.teardown(() => wechatApi.clearScripted());
  wechatApi.answerLate('message/custom/send', 15_000, 1);
  const reply = await im.agentSend(agent, userId, [textElem('sent by a pusher that keeps dying')]);
  const id = replyJobId(reply.msgKey);
  await eventually('its part is on its way', async () => (await redis.hget(keys.replyProgress(id), 'p0')) === 'sending', 20_000);
  // Ten stalls before this one, as BullMQ counts them in the job: this death is one too many.
  await redis.hset(`${keys.jobs('agent-replies')}${id}`, 'stc', '10');
  dying.child.kill('SIGKILL');
  await dying.exited;
  // The next pusher's stalled-job check finds the job without its lock and fails it.
  relay.pusher.start();
  const notices = () =>
    im.messages
      .filter((m) => m.from === userId && m.to === agent && m.cloudCustomData?.includes('relay-notice'))
      .map((m) => String(m.body[0]!.MsgContent['Text']));
  await eventually('its agent is told', () => notices().some((text) => text.includes('sent by a pusher that keeps dying')), 20_000);
  t.match(
    notices().find((text) => text.includes('sent by a pusher that keeps dying')),
    /may not have been delivered/,
    'as a reply that may have arrived: its part was on its way',
  );
  const job = await relay.pusher.queue.getJob(id);
  t.ok(await job!.isFailed(), 'failed, on the dashboard');
  t.match(job!.failedReason, /stalled more than allowable limit/, "by BullMQ's stall limit");
  t.equal(await redis.get(keys.replyEnded(id)), 'failed', 'a later recall reads that it failed');
  t.ok(relay.textsTo(openid).length <= 1, 'never sent again');
});
