import { textElem } from '@wxim/im';
import { keyPrefix, retryFailedJobs } from '@wxim/queue';
import { lineOnRetry, stateKeys } from '@wxim/state';
import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import t from 'tap';
import { eventually, textOf, twoWayForTests } from '@wxim/testkit';

// A reply whose attempts run out says how far it got: after its first part went, its agent is told
// the second was not delivered (not that nothing was); and a reply that went whole, whose work after
// the send failed until its attempts ran out, is never reported to its agent as not delivered.
const relay = await twoWayForTests(t);
const { im, wechatApi } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const keys = stateKeys(keyPrefix(relay.env['QUEUE_PREFIX']!, false));
const queue = relay.pusher.queue;

/** The reply's job, waiting for its next attempt. */
async function retried(): Promise<Job> {
  let job: Job | undefined;
  await eventually('the reply failed an attempt and waits for the next', async () => {
    job = (await queue.getJobs(['delayed', 'wait'])).find((j) => j.attemptsMade >= 1 && j.data.signal === undefined);
    return job !== undefined;
  });
  return job!;
}

/** Its retries end sooner: the default 60 attempts take hours (the job's own options, as BullMQ keeps them). */
async function lastAttemptNext(job: Job): Promise<void> {
  await redis.hset(queue.toKey(job.id!), 'opts', JSON.stringify({ ...job.opts, attempts: job.attemptsMade + 1 }));
}

const notices = (userId: string, agent: string) =>
  im
    .messagesBetween(userId, agent)
    .filter((m) => m.cloudCustomData?.includes('relay-notice'))
    .map(textOf);

t.test('a reply given up after its first part went: its agent is told which part did not arrive', async (t) => {
  const { openid, agent, userId } = await relay.newCustomer();
  const long = `${'a'.repeat(2048)}${'b'.repeat(500)}`; // two parts: WeChat takes 2048 bytes a send
  wechatApi.answerLate('message/custom/send', 10);
  wechatApi.failNext('message/custom/send', -1, 100); // the second part: "system busy", again and again
  await im.agentSend(agent, userId, [textElem(long)]);
  const job = await retried();
  t.equal(wechatApi.sentTo(openid).length, 1, 'the first part went');
  await lastAttemptNext(job);
  await eventually('the reply failed for good', async () => (await queue.getFailed()).some((j) => j.id === job.id));
  await eventually('its agent is told', () => notices(userId, agent).length > 0);
  const [notice] = notices(userId, agent);
  t.match(notice, /^⚠ Relay notice — your reply “a+/, 'quotes the reply');
  t.match(notice, /, part 2 of 2 \(the parts before it were delivered\), was not delivered: it could not be delivered after 2 attempts/, 'says which part');
  t.equal(notices(userId, agent).length, 1, 'one notice');
  wechatApi.clearScripted();
  t.equal(wechatApi.sentTo(openid).length, 1, 'the first part was not sent again');
});

t.test('a reply that went whole is not reported as undelivered when what follows its send fails until its attempts run out', async (t) => {
  const { openid, agent, userId } = await relay.newCustomer();
  // The desk's list of customers waiting for a first answer, made unusable: the pusher's bookkeeping
  // after a delivered reply fails on it every attempt.
  const saved = await redis.dump(keys.deskUnanswered);
  await redis.del(keys.deskUnanswered);
  await redis.set(keys.deskUnanswered, 'not a sorted set');
  t.teardown(async () => {
    await redis.del(keys.deskUnanswered);
    if (saved !== null) await redis.restore(keys.deskUnanswered, 0, saved);
  });
  await im.agentSend(agent, userId, [textElem('here is your answer')]);
  const job = await retried();
  t.equal(wechatApi.sentTo(openid).length, 1, 'the reply reached the customer');
  await lastAttemptNext(job);
  await eventually('the reply failed for good', async () => (await queue.getFailed()).some((j) => j.id === job.id));
  t.same(notices(userId, agent), [], 'its agent is not told it was not delivered');
  t.equal(wechatApi.sentTo(openid).length, 1, 'sent once');
});

t.test('a reply that failed mid-way longer ago than failed jobs are kept is not retried by hand: its first part would go again', async (t) => {
  const { openid, agent, userId } = await relay.newCustomer();
  const long = `${'c'.repeat(2048)}${'d'.repeat(500)}`;
  wechatApi.answerLate('message/custom/send', 10);
  wechatApi.failNext('message/custom/send', -1, 100);
  await im.agentSend(agent, userId, [textElem(long)]);
  const job = await retried();
  await lastAttemptNext(job);
  await eventually('the reply failed for good', async () => (await queue.getFailed()).some((j) => j.id === job.id));
  wechatApi.clearScripted();
  t.equal(wechatApi.sentTo(openid).length, 1, 'the first part went');
  // Nine days on, in a queue where nothing else failed since (BullMQ trims failed jobs only then):
  // the job is still there, its progress is gone.
  await redis.hset(queue.toKey(job.id!), 'finishedOn', String(Date.now() - 9 * 86_400_000));
  await redis.del(keys.replyProgress(job.id!));
  const outcome = await retryFailedJobs(queue, [job.id!], lineOnRetry(redis, keys, 'agent-replies'));
  t.equal(outcome.retried, 0, 'not retried');
  t.match(outcome.skipped, [{ id: job.id, why: /^it failed 9 days ago/ }]);
  // What a retry would have sent comes next to this customer: an answer in the meantime.
  await im.agentSend(agent, userId, [textElem('a later answer')]);
  await eventually('the later answer arrives', () => wechatApi.sentTo(openid).length === 2);
  t.match(String(wechatApi.sentTo(openid)[1]!.payload['content']), /a later answer/, 'and nothing before it: the first part was not sent again');
  t.equal(await (await queue.getJob(job.id!))?.getState(), 'failed', 'still failed');
});
