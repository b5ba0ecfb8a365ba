import { DEFAULT_JOB_OPTIONS, QUEUES } from '@wxim/queue';
import { DeskPresence, stateKeys } from '@wxim/state';
import { startTestRedis, testPrefix } from '@wxim/testkit';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';

// A place freed wakes the jobs of the customers waiting longest, across the accounts that share
// an IM app, on a real Redis with BullMQ's delayed jobs: a customer whose job is gone (it no longer
// sleeps) is passed over for the next, rather than spending the wake.
const server = await startTestRedis();
const redis = new Redis(server.url);
t.teardown(async () => {
  redis.disconnect();
  await server.close();
});

/** An account's desk with one customer waiting since `since`, whose job sleeps (delayed) unless `gone`. */
async function waiting(t: Test, prefix: string, openid: string, since: number, gone = false) {
  const keys = stateKeys(prefix);
  const queue = new Queue(QUEUES.wechatInbound, { connection: redis, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
  t.teardown(() => queue.close());
  await redis.zadd(keys.deskWaiting, String(since), openid);
  if (!gone) {
    await queue.add('text', {}, { jobId: `job-${openid}`, delay: 60_000 });
    await redis.zadd(keys.line(QUEUES.wechatInbound, openid), '1', `job-${openid}`);
  }
  return { keys, prefix, queue };
}

t.test('the longest waiting across the accounts is woken; one whose job is gone is passed over', async (t) => {
  const base = testPrefix();
  const one = await waiting(t, base, 'gone', 1, true);
  const two = await waiting(t, `${base}/two`, 'sleeper', 2);
  const later = await waiting(t, base, 'later', 3);
  const presence = new DeskPresence(redis, one.keys, one.prefix, [{ keys: two.keys, prefix: two.prefix }]);
  t.equal(await presence.wakeWaiting(1), 1, 'one woken');
  t.equal(await two.queue.getJobState('job-sleeper'), 'waiting', "account two's customer, who waited longest of those whose jobs sleep");
  t.equal(await later.queue.getJobState('job-later'), 'delayed', 'no one more than the place freed');
  t.equal(await presence.wakeWaiting(1), 1);
  t.equal(await later.queue.getJobState('job-later'), 'waiting', 'the next place: the next in line');
  t.equal(await presence.wakeWaiting(1), 0, 'nobody left asleep');
});

t.test("a finished job still at the front of a waiting customer's line does not spend the wake: the job behind it, their line's head, is woken", async (t) => {
  const base = testPrefix();
  const first = await waiting(t, base, 'behind-finished', 1);
  // The job before theirs finished, its leaving the line lost (a crash between the two).
  await first.queue.add('text', {}, { jobId: 'job-finished' });
  await redis.hset(`${base}:${QUEUES.wechatInbound}:job-finished`, 'finishedOn', String(Date.now()));
  await redis.zadd(first.keys.line(QUEUES.wechatInbound, 'behind-finished'), '0', 'job-finished');
  const presence = new DeskPresence(redis, first.keys, first.prefix);
  t.equal(await presence.wakeWaiting(1), 1, 'one woken');
  t.equal(await first.queue.getJobState('job-behind-finished'), 'waiting', "the line's live head");
});
