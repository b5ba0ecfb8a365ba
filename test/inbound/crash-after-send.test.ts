import { type InboundJob, QUEUES } from '@wxim/queue';
import { fakeOpenId } from '@wxim/sandbox';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import t from 'tap';
import { eventually, relayForTests, textOf } from '@wxim/testkit';

// IM's duplicate window shortened from 120 s to 500 ms on both sides. The worker does not run at
// first: the test takes a job by hand, as a worker that then dies would.
const relay = await relayForTests(t, { startWorker: false, sim: { dedupeWindowMs: 500 }, worker: { imDuplicateWindowMs: 500 } });

t.test('a worker dies after IM took a message, before the job is recorded done: the rerun keeps its place and does not resend', async (t) => {
  const { wechat, im } = relay;
  const openid = fakeOpenId();
  for (const text of ['sent, then the worker died', 'after it']) t.equal((await wechat.push(wechat.text(openid, text))).status, 200);
  const connection = new Redis(relay.redisUrl, { maxRetriesPerRequest: null });
  const dying = new Worker<InboundJob>(QUEUES.wechatInbound, undefined, { connection, prefix: relay.env['QUEUE_PREFIX'], autorun: false });
  t.teardown(async () => {
    await dying.close();
    connection.disconnect();
  });
  const job = await dying.getNextJob('dying-token');
  t.equal(job.data.message.kind === 'text' && job.data.message.content, 'sent, then the worker died', 'the first message');
  await relay.worker.runJob(job, 'dying-token');
  const sentAt = Date.now();
  t.same(im.messagesBetween(openid).map(textOf), ['sent, then the worker died'], 'IM has it');
  // The worker dies here, before BullMQ records the job as completed. Its lock runs out after IM's
  // duplicate window has passed, and the job is taken again, as the stalled-job check does.
  await eventually("IM's duplicate window has passed", () => Date.now() - sentAt > 600);
  await job.moveToWait('dying-token');
  relay.worker.start();
  const queue = relay.gateway.gateway.queue;
  await eventually('both jobs are done', async () => (await queue.getCompletedCount()) === 2);
  t.same(im.messagesBetween(openid).map(textOf), ['sent, then the worker died', 'after it'], 'once each, in order');
  t.equal(im.stats.duplicatesDropped, 0, 'the rerun found the message in the history and did not send it');
});
