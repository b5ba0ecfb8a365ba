import { fakeOpenId } from '@wxim/sandbox';
import { stateKeys } from '@wxim/state';
import { Redis } from 'ioredis';
import t from 'tap';
import { eventually, startTestRedis, AGENTS, startRelay, textOf } from '@wxim/testkit';

const redis = await startTestRedis();
t.teardown(() => redis.close());

t.test('new customers spread over the agents; each stays with their agent', async (t) => {
  const relay = await startRelay(redis.url);
  t.teardown(() => relay.close());
  const { wechat, im } = relay;
  const customers = Array.from({ length: 6 }, fakeOpenId);
  for (const c of customers) await wechat.push(wechat.text(c, 'first'));
  await relay.waitForMessages(6);
  const agentOf = new Map(customers.map((c) => [c, im.messagesBetween(c)[0]!.to]));
  const perAgent = AGENTS.map((a) => [...agentOf.values()].filter((x) => x === a).length);
  t.same(perAgent, [2, 2, 2], 'the agent with the fewest customers takes the next one');
  for (const c of customers) await wechat.push(wechat.text(c, 'second'));
  await relay.waitForMessages(12);
  for (const c of customers)
    t.same(
      im.messagesBetween(c).map((m) => m.to),
      [agentOf.get(c), agentOf.get(c)],
      'sticky',
    );
  // Both of the first agent's customers unfollow: that agent now has the fewest, and gets the next.
  const leaving = customers.filter((c) => agentOf.get(c) === AGENTS[0]);
  for (const c of leaving) await wechat.push({ ...wechat.unfollow(c), createTime: Math.floor(Date.now() / 1000) + 1 });
  await relay.waitForMessages(14);
  const queue = relay.gateway.gateway.queue;
  await eventually(
    'both unfollows are done',
    async () => leaving.every((c) => im.deleted.has(c)) && (await queue.getActiveCount()) + (await queue.getWaitingCount()) === 0,
  );
  const newcomer = fakeOpenId();
  await wechat.push(wechat.text(newcomer, 'new here'));
  await relay.waitForMessages(15);
  t.equal(im.messagesBetween(newcomer)[0]!.to, AGENTS[0], 'customers who unfollowed no longer count towards their agent');
});

t.test('unfollow deletes the account; a re-follow after IM refuses the old UserID gets a new one', async (t) => {
  const relay = await startRelay(redis.url, { sim: { refuseReimport: true } });
  t.teardown(() => relay.close());
  const { wechat, im } = relay;
  const openid = fakeOpenId();
  await wechat.push(wechat.follow(openid));
  await wechat.push(wechat.text(openid, 'hello'));
  await relay.waitForMessages(2);
  const agent = im.messagesBetween(openid)[0]!.to;
  await wechat.push({ ...wechat.unfollow(openid), createTime: Math.floor(Date.now() / 1000) + 1 });
  await relay.waitForMessages(3);
  t.match(textOf(im.messagesBetween(openid)[2]!), /unfollowed/, 'the agent is told before the account goes');
  await eventually('the account is deleted', () => !im.accounts.has(openid));
  t.ok(im.deleted.has(openid), 'account_delete, as the seed demo does');

  await wechat.push({ ...wechat.follow(openid), createTime: Math.floor(Date.now() / 1000) + 2 });
  await wechat.push(wechat.text(openid, 'I am back'));
  await relay.waitForMessages(5);
  const again = im.messagesBetween(`${openid}_2`);
  t.same(again.map(textOf).slice(-1), ['I am back'], 'the returning follower writes from a new UserID');
  t.equal(again[0]!.to, agent, 'to the same agent as before');
  t.ok(im.accounts.has(`${openid}_2`));
});

/** A relay of its own (closed when `t` ends) with one customer who wrote once, and their unfollow, a second later. */
async function customerWhoWrote(t: { teardown(fn: () => Promise<void>): void }) {
  const relay = await startRelay(redis.url);
  t.teardown(() => relay.close());
  const { wechat, im } = relay;
  const openid = fakeOpenId();
  await wechat.push(wechat.text(openid, 'hello'));
  await relay.waitForMessages(1);
  const unfollow = () => wechat.push({ ...wechat.unfollow(openid), createTime: Math.floor(Date.now() / 1000) + 1 });
  return { relay, im, openid, unfollow };
}

t.test("an unfollow of a customer whose IM account is gone (deleted in IM's console) still tells their agent", async (t) => {
  const { relay, im, openid, unfollow } = await customerWhoWrote(t);
  im.accounts.delete(openid);
  await unfollow();
  await relay.waitForMessages(2);
  t.match(textOf(im.messagesBetween(openid)[1]!), /unfollowed/, 'imported again, and the agent told');
  await eventually('the account is deleted', () => !im.accounts.has(openid) && im.deleted.has(openid));
});

t.test("an unfollow whose agent's IM account is gone completes: the note cannot go, the customer's account is still deleted", async (t) => {
  const { relay, im, openid, unfollow } = await customerWhoWrote(t);
  im.accounts.delete(im.messagesBetween(openid)[0]!.to);
  await unfollow();
  const queue = relay.gateway.gateway.queue;
  await eventually('the unfollow is done', async () => (await queue.getCompletedCount()) === 2, 10_000);
  const job = (await queue.getJobs(['completed'])).find((j) => j.data.message.kind === 'unsubscribe');
  t.equal(job?.attemptsMade, 1, 'at once, not retried');
  t.ok(im.deleted.has(openid) && !im.accounts.has(openid), "the customer's account deleted");
  t.match(job?.returnvalue, { outcome: 'skipped', reason: /the unfollow's note could not go: IM has no account for agent/ }, 'said, not counted relayed');
  const metrics = (await relay.worker.app.inject('/metrics')).body;
  t.match(metrics, /wxim_im_relayed_total\{kind="unsubscribe",outcome="skipped"\} 1/);
});

t.test('an unfollow whose agent left IM_AGENTS completes without a note to them: said, not counted relayed', async (t) => {
  const { relay, im, openid, unfollow } = await customerWhoWrote(t);
  // The customer's agent was dropped from IM_AGENTS (a redeploy): their IM account is still there.
  const keys = stateKeys(relay.env['QUEUE_PREFIX']!);
  const client = new Redis(redis.url);
  t.teardown(() => client.disconnect());
  im.accounts.set('former_agent', {});
  await client.hset(keys.customer(openid), 'agent', 'former_agent');
  await unfollow();
  const queue = relay.gateway.gateway.queue;
  await eventually('the unfollow is done', async () => (await queue.getCompletedCount()) === 2, 10_000);
  const job = (await queue.getJobs(['completed'])).find((j) => j.data.message.kind === 'unsubscribe');
  t.match(job?.returnvalue, { outcome: 'skipped', reason: /its agent former_agent is no longer one of IM_AGENTS/ });
  t.same(im.messagesBetween(openid, 'former_agent'), [], 'nothing sent to the agent who left');
  t.ok(im.deleted.has(openid) && !im.accounts.has(openid), "the customer's account deleted");
  t.equal(await client.hget(keys.customer(openid), 'counted'), '0', 'the conversation closed');
});

t.test("an unfollow retried after its account_delete's answer was lost tells the agent once, and sends nothing from the deleted account", async (t) => {
  const { relay, im, openid, unfollow } = await customerWhoWrote(t);
  im.failNext('im_open_login_svc/account_delete', 'lost');
  await unfollow();
  const queue = relay.gateway.gateway.queue;
  await eventually('the unfollow is done', async () => (await queue.getCompletedCount()) === 2, 15_000);
  t.equal(im.stats.faults.lost, 1, 'the answer of account_delete was lost (done in IM), and the job tried again');
  t.equal(im.messagesBetween(openid).filter((m) => /unfollowed/.test(textOf(m))).length, 1, 'the agent told once');
  t.notOk(im.accounts.has(openid), 'the account stays deleted (not imported again to send the note twice)');
});

t.test('ON_UNSUBSCRIBE=keep keeps the account and history', async (t) => {
  const relay = await startRelay(redis.url, { env: { ON_UNSUBSCRIBE: 'keep' } });
  t.teardown(() => relay.close());
  const { wechat, im } = relay;
  const openid = fakeOpenId();
  await wechat.push(wechat.text(openid, 'hi'));
  await wechat.push({ ...wechat.unfollow(openid), createTime: Math.floor(Date.now() / 1000) + 1 });
  await relay.waitForMessages(2);
  t.match(textOf(im.messagesBetween(openid)[1]!), /unfollowed/);
  t.ok(im.accounts.has(openid));
  t.notOk(im.deleted.has(openid));
});
