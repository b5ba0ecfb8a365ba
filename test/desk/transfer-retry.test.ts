import { textElem } from '@wxim/im';
import { keyPrefix, replyJobId } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { Redis } from 'ioredis';
import t from 'tap';
import { AGENTS, eventually, textOf, twoWayForTests } from '@wxim/testkit';

// A /transfer tells two agents: the new one (with the conversation so far, read from IM's history)
// and the old one. When the second notice fails and the command is retried, the first is not sent
// again: read again, the history may have changed (the old agent typed meanwhile), and IM drops a
// repeat only when its text is the same.
const relay = await twoWayForTests(t);
const { im } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const keys = stateKeys(keyPrefix(relay.env['QUEUE_PREFIX']!, false));

const notices = (userId: string, agent: string) =>
  im
    .messagesBetween(userId, agent)
    .filter((m) => m.cloudCustomData?.includes('relay-notice'))
    .map(textOf);

t.test("a /transfer retried after its old agent's notice failed tells the new agent once", async (t) => {
  const c = await relay.newCustomer();
  const next = AGENTS.find((a) => a !== c.agent)!;
  const activeSince = await redis.zscore(keys.deskActive, c.openid);
  t.ok(activeSince !== null, 'the conversation is open');
  // The intro to the new agent goes; the notice to the old one fails (IM busy) after 2 s.
  im.answerLate('openim/sendmsg', 10, 1);
  im.refuseLate('openim/sendmsg', 70169, 2000, 1, 'server busy');
  const command = await im.agentSend(c.agent, c.userId, [textElem(`/transfer ${next}`)]);
  await eventually('the new agent has the intro', () => notices(c.userId, next).length === 1, 15_000);
  // Meanwhile the old agent types once more (not delivered to the customer, but in IM's history).
  await im.agentSend(c.agent, c.userId, [textElem('one more thing')]);
  const handedOn = () => notices(c.userId, c.agent).filter((n) => n.includes(`Handed to ${next}`));
  await eventually('the old agent is told, after the retry', () => handedOn().length === 1, 30_000);
  await eventually('the command is done', async () => (await relay.pusher.queue.getJob(replyJobId(command.msgKey)))?.finishedOn !== undefined);
  t.equal(notices(c.userId, next).length, 1, 'the new agent was told once');
  t.equal(handedOn().length, 1, 'the old agent once');
  t.equal(await redis.hget(keys.customer(c.openid), 'agent'), next, 'handed on');
  // The conversation's time stays its customer's last message: CLOSE_AFTER_IDLE counts from it.
  t.equal(await redis.zscore(keys.deskActive, c.openid), activeSince, 'handing on does not restart the idle time');
});

t.test('a command that failed for good keeps its progress for a week, not forever', async (t) => {
  const c = await relay.newCustomer();
  const next = AGENTS.find((a) => a !== c.agent)!;
  // Every notice of the command fails (IM busy): it moved the customer, then is retried; its
  // attempts are cut to the next one (the default 60 take hours), after which it fails for good.
  im.failNext('openim/sendmsg', 70169, 1000, 'server busy');
  t.teardown(() => im.clearScripted());
  const command = await im.agentSend(c.agent, c.userId, [textElem(`/transfer ${next}`)]);
  const id = replyJobId(command.msgKey);
  const queue = relay.pusher.queue;
  await eventually('the command failed an attempt', async () => ((await queue.getJob(id))?.attemptsMade ?? 0) >= 1, 15_000);
  const job = (await queue.getJob(id))!;
  await redis.hset(queue.toKey(id), 'opts', JSON.stringify({ ...job.opts, attempts: job.attemptsMade + 1 }));
  await eventually('the command failed', async () => (await (await queue.getJob(id))?.getState()) === 'failed', 15_000);
  im.clearScripted();
  const ttl = await redis.pttl(keys.replyProgress(id));
  t.ok(ttl > 7 * 24 * 3600_000 && ttl <= 8 * 24 * 3600_000, `its progress expires in ${Math.round(ttl / 3600_000)} h`);
  t.equal(await redis.hget(keys.replyProgress(id), 'transferred'), next, 'what it did, for a retry by hand to read');
});
