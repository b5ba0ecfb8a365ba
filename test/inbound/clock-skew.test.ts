import { fakeOpenId } from '@wxim/sandbox';
import t from 'tap';
import { eventually, relayForTests, textOf, startWorkerProcess } from '@wxim/testkit';

// IM's duplicate window shortened from 120 s to 500 ms on both sides.
const WINDOW_MS = 500;
const relay = await relayForTests(t, {
  startWorker: false,
  sim: { dedupeWindowMs: WINDOW_MS },
  worker: { imDuplicateWindowMs: WINDOW_MS },
  env: { WORKER_STALL_MS: '1000' },
});

t.test('a worker whose clock is a minute ahead tries first; another resends later: it looks in the history and sends nothing', async (t) => {
  const { wechat, im } = relay;
  const queue = relay.gateway.gateway.queue;
  const openid = fakeOpenId();
  const ahead = await startWorkerProcess({ ...relay.env, REDIS_URL: relay.redisUrl }, { imDuplicateWindowMs: WINDOW_MS, clockSkewMs: 60_000 });
  t.teardown(() => ahead.stop());
  t.equal((await wechat.push(wechat.text(openid, 'warm up'))).status, 200);
  await relay.waitForMessages(1);
  // IM takes the message and answers 10 s later; the worker dies before it hears the answer.
  im.answerLate('openim/sendmsg', 10_000);
  const push = wechat.text(openid, 'sent by the worker that died');
  t.equal((await wechat.push(push)).status, 200);
  await relay.waitForMessages(2);
  ahead.child.kill('SIGKILL');
  await ahead.exited;
  // A worker with the right clock takes the job over once its lock has expired, past IM's window.
  relay.worker.start();
  const jobId = `m-${openid}-${push.kind === 'text' ? push.msgId : ''}`;
  await eventually('the job is taken over and completes', async () => (await queue.getJob(jobId))?.isCompleted() ?? false, 15_000);
  t.same(im.messagesBetween(openid).map(textOf), ['warm up', 'sent by the worker that died'], 'once');
  t.equal(im.stats.duplicatesDropped, 0, 'nothing was sent again: the history had it');
});
