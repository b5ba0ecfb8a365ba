import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { fakeOpenId } from '@wxim/sandbox';
import t from 'tap';
import { eventually, relayForTests, textOf } from '@wxim/testkit';

// IM's duplicate window shortened from 120 s to 500 ms on both sides.
const relay = await relayForTests(t, { sim: { dedupeWindowMs: 500 }, worker: { imDuplicateWindowMs: 500 } });
const retryFailed = fileURLToPath(new URL('../../cli/dist/retry-failed.js', import.meta.url));

t.test('a failed job retried by hand after the duplicate window keeps its ids and looks first: the agent has it once', async (t) => {
  const { wechat, im } = relay;
  const queue = relay.gateway.gateway.queue;
  const openid = fakeOpenId();
  t.equal((await wechat.push(wechat.text(openid, 'warm up'))).status, 200);
  await relay.waitForMessages(1);
  // Delivered, but the answer is lost; the next attempt meets a permanent error: failed for good.
  im.failNext('openim/sendmsg', 'lost');
  im.failNext('openim/sendmsg', 80001, 1, 'content security');
  const push = wechat.text(openid, 'delivered, answer lost, then failed');
  t.equal((await wechat.push(push)).status, 200);
  const jobId = `m-${openid}-${push.kind === 'text' ? push.msgId : ''}`;
  await eventually('the job has failed for good', async () => (await queue.getJob(jobId))?.isFailed() ?? false);
  const failedAt = Date.now();
  t.same(im.messagesBetween(openid).map(textOf), ['warm up', 'delivered, answer lost, then failed'], 'IM has it already');
  await eventually("IM's duplicate window has passed", () => Date.now() - failedAt > 700, 5000, 50);

  // As docs/runbook.md says: the retry command, which resets the attempts.
  const { stdout } = await promisify(execFile)(process.execPath, [retryFailed], {
    env: { PATH: process.env['PATH'] ?? '', REDIS_URL: relay.redisUrl, QUEUE_PREFIX: relay.env['QUEUE_PREFIX']! },
  });
  t.match(stdout, /retried 1 failed job of wechat-inbound/);
  await eventually('the retried job completes', async () => (await queue.getJob(jobId))?.isCompleted() ?? false);
  const job = await queue.getJob(jobId);
  t.equal(job?.attemptsMade, 1, 'its attempts were reset');
  t.same(im.messagesBetween(openid).map(textOf), ['warm up', 'delivered, answer lost, then failed'], 'once');
  t.equal(im.stats.duplicatesDropped, 0, 'nothing was sent again for IM to drop: it was found in the history');
});
