import { textElem } from '@wxim/im';
import { keyPrefix, replyJobId } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { Redis } from 'ioredis';
import t from 'tap';
import { closeConversation } from '@wxim/wechat-pusher';
import { AGENTS, eventually, replyHeldWhile, textOf, twoWayForTests } from '@wxim/testkit';

const SLA_S = 10;
// Moves wait out the SLA, several in some tests: about two minutes in all, past tap's default for a file.
t.setTimeout(240_000);
const relay = await twoWayForTests(t, { env: { FIRST_RESPONSE_SLA_S: String(SLA_S) }, pusher: { firstResponseCheckEveryMs: 200 } });
const { im } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const keys = stateKeys(keyPrefix(relay.env['QUEUE_PREFIX']!, false));
const OVERDUE_MS = SLA_S * 1000 + 5000;

/** The relay's notices to `agent` in the conversation of the customer `userId`. */
const notices = (userId: string, agent: string) =>
  im
    .messagesBetween(userId, agent)
    .filter((m) => m.cloudCustomData?.includes('relay-notice'))
    .map(textOf);
const agentOf = (openid: string) => redis.hget(keys.customer(openid), 'agent');

/** When the customer's wait for an answer began: marked a moment after IM has their message. */
async function waitingSince(openid: string): Promise<string> {
  let since: string | null = null;
  await eventually('the customer waits for an answer', async () => (since = await redis.zscore(keys.deskUnanswered, openid)) !== null);
  return since!;
}

/** The pusher's samples of a metric, by its series' text (e.g. `wxim_desk_transfers_total{cause="sla"}`). */
async function metric(series: string): Promise<number> {
  const text = (await relay.pusher.app.inject('/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

t.test('a message unanswered past FIRST_RESPONSE_SLA_S moves the conversation to another agent, once; an answered one stays', async (t) => {
  const [late, answered] = [await relay.newCustomer(), await relay.newCustomer()];
  await im.agentSend(answered.agent, answered.userId, [textElem('Hello, how can I help?')]);
  await relay.waitForSent(answered.openid, 1);
  await eventually('the answer clears the wait', async () => (await redis.zscore(keys.deskUnanswered, answered.openid)) === null);

  await eventually('the unanswered conversation moves', async () => (await agentOf(late.openid)) !== late.agent, OVERDUE_MS);
  const next = (await agentOf(late.openid))!;
  t.ok(AGENTS.includes(next), `handed to ${next}, another agent`);
  await eventually('both agents are told', () => notices(late.userId, next).length > 0 && notices(late.userId, late.agent).length > 0);
  t.match(notices(late.userId, next), [
    new RegExp(`waited over ${SLA_S} s for an answer from ${late.agent}, so the relay handed them to you\\. The conversation so far:\\nCustomer: hello$`),
  ]);
  t.match(notices(late.userId, late.agent), [new RegExp(`handed them to ${next}\\. Your replies to this customer from now on are not delivered`)]);
  t.equal(await agentOf(answered.openid), answered.agent, 'the answered customer stays with their agent');
  t.equal(await metric('wxim_desk_transfers_total{cause="sla"}'), 1);
  t.equal(await metric('wxim_desk_transfers_total{cause="command"}'), 0);

  const before = im.messagesBetween(late.userId, next).length;
  await relay.wechat.push(relay.wechat.text(late.openid, 'anyone?'));
  await eventually('the customer’s next message reaches the new agent', () => im.messagesBetween(late.userId, next).length > before);
  t.same(
    im
      .messagesBetween(late.userId, late.agent)
      .filter((m) => !m.cloudCustomData?.includes('relay-notice'))
      .map(textOf),
    ['hello'],
    'nothing more to the old agent',
  );
  await im.agentSend(next, late.userId, [textElem('Sorry for the wait.')]);
  await relay.waitForSent(late.openid, 1);
  await eventually('the new agent’s answer clears the wait', async () => (await redis.zscore(keys.deskUnanswered, late.openid)) === null);
  t.equal(notices(late.userId, next).length, 1, 'one notice to the new agent');
  t.equal(notices(late.userId, late.agent).length, 1, 'one notice to the old agent');

  // Observed once the pusher hears its script cleared the wait, a moment after Redis shows it.
  await eventually('the first answers are counted', async () => (await metric('wxim_desk_first_response_seconds_count')) >= 2);
  t.equal(await metric('wxim_desk_first_response_seconds_count'), 2, 'two first answers');
  await im.agentSend(answered.agent, answered.userId, [textElem('/close')]);
  await eventually('the close is counted', async () => (await metric('wxim_desk_resolution_seconds_count')) === 1);
});

t.test("an answer sent before the customer's next message and delivered after it does not answer that one: the customer still waits", async (t) => {
  const c = await relay.newCustomer();
  const first = await waitingSince(c.openid);
  await replyHeldWhile(
    im,
    c,
    () => im.agentSend(c.agent, c.userId, [textElem('About your first question…')]),
    () => relay.customerWrites(c.openid, 'And another thing'),
  );
  await relay.waitForSent(c.openid, 1);
  const since = await redis.zscore(keys.deskUnanswered, c.openid);
  t.not(since, null, 'the next message still waits for an answer');
  t.ok(Number(since) > Number(first), 'counted again from the earlier answer, not from the first message');
  await im.agentSend(c.agent, c.userId, [textElem('…and about the other thing')]);
  await relay.waitForSent(c.openid, 2);
  await eventually('an answer sent after it ends the wait', async () => (await redis.zscore(keys.deskUnanswered, c.openid)) === null);
  t.equal(await agentOf(c.openid), c.agent, 'nobody was moved');
});

t.test('an answer delivered after the customer only followed again (an event, asking no answer) still answers them', async (t) => {
  const c = await relay.newCustomer();
  await waitingSince(c.openid);
  await replyHeldWhile(
    im,
    c,
    () => im.agentSend(c.agent, c.userId, [textElem('Here is your answer.')]),
    async () => {
      const before = im.messagesBetween(c.userId, c.agent).length;
      t.equal((await relay.wechat.push(relay.wechat.follow(c.openid))).status, 200);
      await eventually('the follow reaches the agent', () => im.messagesBetween(c.userId, c.agent).length > before);
    },
  );
  await relay.waitForSent(c.openid, 1);
  await eventually('the answer ends the wait', async () => (await redis.zscore(keys.deskUnanswered, c.openid)) === null);
});

t.test('with nobody else free nothing moves and nobody is told, until an agent is free', async (t) => {
  const c = await relay.newCustomer();
  const others = AGENTS.filter((a) => a !== c.agent);
  for (const a of others) await im.agentLogout(a);
  const since = Number(await waitingSince(c.openid));
  t.ok(since > 0, 'the customer waits for an answer');
  // Past the SLA and several checks: still theirs, nobody told.
  await eventually('the wait is overdue', async () => Number((await redis.time())[0]) * 1000 > since + SLA_S * 1000 + 1000, OVERDUE_MS);
  t.equal(await agentOf(c.openid), c.agent, 'not moved');
  t.same(notices(c.userId, c.agent), [], 'nobody told');

  await im.agentLogin(others[0]!);
  await eventually('it moves once an agent is free', async () => (await agentOf(c.openid)) === others[0]);
  await eventually('both told', () => notices(c.userId, others[0]!).length === 1 && notices(c.userId, c.agent).length === 1);
  for (const a of others) await im.agentLogin(a);
  await im.agentSend(others[0]!, c.userId, [textElem('Here now.')]);
  await relay.waitForSent(c.openid, 1);
});

t.test('a conversation is never moved back to an agent who let it lapse; once every other agent has had it, it stays', async (t) => {
  const c = await relay.newCustomer();
  const exhausted = await metric('wxim_desk_sla_exhausted_total');
  const [next, away] = AGENTS.filter((a) => a !== c.agent) as [string, string];
  await im.agentLogout(away);
  t.teardown(() => im.agentLogin(away));
  await eventually('it moves to the one other agent online', async () => (await agentOf(c.openid)) === next, OVERDUE_MS);
  await eventually('both told', () => notices(c.userId, next).length === 1 && notices(c.userId, c.agent).length === 1);
  // The new agent lets it lapse as well: the first agent has room, but let it lapse before.
  const since = Number(await waitingSince(c.openid));
  await eventually('the new wait is overdue', async () => Number((await redis.time())[0]) * 1000 > since + SLA_S * 1000 + 1000, OVERDUE_MS);
  const checks = 'wxim_pusher_checks_total{check="first_response",outcome="done"}';
  const checked = await metric(checks);
  await eventually('three checks more', async () => (await metric(checks)) >= checked + 3);
  t.equal(await agentOf(c.openid), next, 'not moved back');
  t.equal(await redis.hget(keys.customer(c.openid), 'handedOn'), c.agent, 'handed on once');
  t.equal(notices(c.userId, c.agent).length, 1, 'the first agent told once');
  t.equal(notices(c.userId, next).length, 1, 'the new agent told once');
  // The third agent comes back: it moves to them, who let it lapse in turn. Nobody is left who has
  // not had it: it stays, and the message is owed no more moves.
  await im.agentLogin(away);
  await eventually('it moves to the agent back', async () => (await agentOf(c.openid)) === away, OVERDUE_MS);
  await eventually(
    'every other agent has had it: the message is owed no more moves',
    async () => (await redis.zscore(keys.deskUnanswered, c.openid)) === null,
    OVERDUE_MS + 5000,
  );
  t.equal(await agentOf(c.openid), away, 'it stays');
  t.equal(await metric('wxim_desk_sla_exhausted_total'), exhausted + 1, 'counted: an operator sees a first answer nobody was left to give');
  t.equal(notices(c.userId, c.agent).length, 1, 'the first agent told once in all');
  await relay.wechat.push(relay.wechat.text(c.openid, 'still waiting'));
  await eventually("the customer's next message is owed an answer again", async () => (await redis.zscore(keys.deskUnanswered, c.openid)) !== null);
  await im.agentSend(away, c.userId, [textElem('Here now.')]);
  await relay.waitForSent(c.openid, 1);
});

t.test('a conversation whose agent has logged out goes back to an agent online who had it before, rather than staying with nobody', async (t) => {
  const c = await relay.newCustomer();
  const [next, away] = AGENTS.filter((a) => a !== c.agent) as [string, string];
  await im.agentLogout(away);
  t.teardown(() => im.agentLogin(away));
  await eventually('it moves to the one other agent online', async () => (await agentOf(c.openid)) === next, OVERDUE_MS);
  // The end of next's shift, the customer's question still unanswered: the first agent is the only one online.
  await im.agentLogout(next);
  t.teardown(() => im.agentLogin(next));
  await eventually('it goes back to the first agent, online', async () => (await agentOf(c.openid)) === c.agent, OVERDUE_MS + 5000);
  await im.agentSend(c.agent, c.userId, [textElem('Back with you.')]);
  await relay.waitForSent(c.openid, 1);
  t.same(relay.textsTo(c.openid), ['Back with you.'], "the agent's reply is delivered: they serve the customer again");
});

t.test('a customer left unanswered by an agent no longer of IM_AGENTS (a redeploy) moves to one who is, who is told', async (t) => {
  const c = await relay.newCustomer();
  await waitingSince(c.openid);
  // The conversation's agent was removed from IM_AGENTS since, their IM account deleted too (no
  // history to read there): as a redeploy leaves it, the customer still theirs, their place counted.
  const gone = 'agent_removed';
  // Every agent of IM_AGENTS had it before (handed it on): it can never come back to the removed
  // one, so it moves all the same.
  await redis.hset(keys.customer(c.openid), 'agent', gone, 'handedOn', AGENTS.join(','));
  await redis.zincrby(keys.agentLoad, -1, c.agent);
  await redis.zincrby(keys.agentLoad, 1, gone);
  t.teardown(() => redis.zrem(keys.agentLoad, gone));
  // IM answers the history's reads for the deleted account "not imported".
  im.historyRefused.set(gone, 70107);
  t.teardown(() => im.historyRefused.delete(gone));
  await eventually('the customer moves to an agent of IM_AGENTS', async () => AGENTS.includes((await agentOf(c.openid))!), OVERDUE_MS);
  const next = (await agentOf(c.openid))!;
  await eventually('the new agent is told', () => notices(c.userId, next).length === 1);
  t.match(notices(c.userId, next)[0], new RegExp(`waited over ${SLA_S} s for an answer from ${gone}, so the relay handed them to you\\.`));
  t.same(notices(c.userId, gone), [], 'nobody told where nobody watches');
  await im.agentSend(next, c.userId, [textElem('Here now.')]);
  await relay.waitForSent(c.openid, 1);
});

t.test('a move whose notices failed is made once, and its notices follow at the next check', async (t) => {
  const c = await relay.newCustomer();
  const since = await waitingSince(c.openid);
  const moves = await metric('wxim_desk_transfers_total{cause="sla"}');
  // The first notice of the move fails (IM busy): the move is done, the notices owed.
  im.failNext('openim/sendmsg', 70169, 1);
  await eventually('the conversation moves', async () => (await agentOf(c.openid)) !== c.agent, OVERDUE_MS);
  const next = (await agentOf(c.openid))!;
  // Well before the new agent's own time runs out (the next move): the owed notices, from this move.
  await eventually(
    'both agents are told all the same',
    () =>
      notices(c.userId, next).some((n) => /so the relay handed them to you/.test(n)) &&
      notices(c.userId, c.agent).some((n) => n.includes(`so the relay handed them to ${next}.`)),
    5000,
  );
  await eventually('no notice is owed', async () => (await redis.zcard(keys.deskSlaMovesOwed)) === 0);
  t.same([notices(c.userId, next).length, notices(c.userId, c.agent).length], [1, 1], 'each told once');
  t.same(
    await redis.hgetall(keys.deskSlaMove(`${c.openid}:${since}`)),
    { to: next, from: c.agent, openid: c.openid, 'told:sla-to': '1', 'told:sla-from': '1' },
    'the move as made, both told',
  );
  t.equal(await metric('wxim_desk_transfers_total{cause="sla"}'), moves + 1, 'counted once');
});

t.test("a move's notices IM keeps failing, or refuses for good (an account gone, a text it will not take), never hold up other moves", async (t) => {
  const [stuck, gone, refused, later] = [await relay.newCustomer(), await relay.newCustomer(), await relay.newCustomer(), await relay.newCustomer()];
  const [stuckSince] = await Promise.all([stuck, gone, refused, later].map((c) => waitingSince(c.openid)));
  // The customer's IM account is gone (deleted by their unfollow before it freed the place); IM
  // refuses the other's notices for good (a text it will not take).
  im.accounts.delete(gone.userId);
  im.sendRefused.set(refused.userId, 80001);
  // Every notice about the first customer fails with a code IM may give again (server busy).
  im.sendRefused.set(stuck.userId, 90994);
  t.teardown(() => im.sendRefused.clear());
  await eventually(
    'all three move',
    async () => (await Promise.all([stuck, gone, refused, later].map(async (c) => (await agentOf(c.openid)) !== c.agent))).every(Boolean),
    2 * OVERDUE_MS,
  );
  const nextOf = (await agentOf(later.openid))!;
  await eventually('the later customer’s agents are told', () => notices(later.userId, nextOf).length === 1 && notices(later.userId, later.agent).length === 1);
  // The gone and refused customers' moves are owed no more; the stuck one's notices are tried again at each check.
  await eventually(
    'only the stuck move is still owed',
    async () => (await redis.zrange(keys.deskSlaMovesOwed, 0, -1)).join() === `${stuck.openid}:${stuckSince}`,
  );
  t.same(notices(stuck.userId, (await agentOf(stuck.openid))!), [], 'its agents not told yet');
});

t.test('a notice IM refuses for good is left, and the other agent is still told', async (t) => {
  const c = await relay.newCustomer();
  const since = await waitingSince(c.openid);
  // IM refuses anything sent to the other agents (the one the customer moves to): the intro.
  for (const a of AGENTS.filter((a) => a !== c.agent)) im.sendRefused.set(a, 80001);
  t.teardown(() => im.sendRefused.clear());
  await eventually('the conversation moves', async () => (await agentOf(c.openid)) !== c.agent, OVERDUE_MS);
  const next = (await agentOf(c.openid))!;
  await eventually('the old agent is told', () => notices(c.userId, c.agent).some((n) => n.includes(`so the relay handed them to ${next}.`)));
  await eventually('owed no more', async () => (await redis.zscore(keys.deskSlaMovesOwed, `${c.openid}:${since}`)) === null);
  t.same(notices(c.userId, next), [], 'the intro IM refused was not sent');
  im.sendRefused.clear();
  await im.agentSend(next, c.userId, [textElem('Here now.')]);
  await relay.waitForSent(c.openid, 1);
});

t.test('each check is counted, done or failed, so a check that keeps failing can page (only a log line before)', async (t) => {
  const done = 'wxim_pusher_checks_total{check="first_response",outcome="done"}';
  const failed = 'wxim_pusher_checks_total{check="first_response",outcome="failed"}';
  const doneBefore = await metric(done);
  await eventually('checks run and are counted done', async () => (await metric(done)) > doneBefore);
  // The owed moves' list is not a list: every check fails on its first read (as Redis refusing would).
  const owed = await redis.dump(keys.deskSlaMovesOwed);
  await redis.del(keys.deskSlaMovesOwed);
  await redis.set(keys.deskSlaMovesOwed, 'not a sorted set');
  t.teardown(async () => {
    await redis.del(keys.deskSlaMovesOwed);
    if (owed !== null) await redis.restore(keys.deskSlaMovesOwed, 0, owed);
  });
  const failedBefore = await metric(failed);
  await eventually('the failing checks are counted', async () => (await metric(failed)) >= failedBefore + 2);
  const doneWhileFailing = await metric(done);
  await redis.del(keys.deskSlaMovesOwed);
  if (owed !== null) await redis.restore(keys.deskSlaMovesOwed, 0, owed);
  await eventually('checks are done again', async () => (await metric(done)) > doneWhileFailing);
  t.ok((await metric(failed)) >= failedBefore + 2, 'failed checks counted');
});

t.test('a /close retried after it closed leaves alone the conversation the customer’s next message opened: its question is still owed an answer', async (t) => {
  const c = await relay.newCustomer();
  await waitingSince(c.openid);
  await relay.pusher.worker.pause();
  const command = await im.agentSend(c.agent, c.userId, [textElem('/close')]);
  // The command's first attempt closed the conversation, and its pusher died there.
  const [outcome] = await closeConversation(redis, keys, c.openid, c.agent, replyJobId(command.msgKey));
  t.equal(outcome, 'closed', 'closed by the first attempt');
  t.equal(await redis.zscore(keys.deskUnanswered, c.openid), null, 'nothing owed in the closed conversation');
  // Before the retry, the customer asks again: a new conversation, with the same agent.
  await relay.wechat.push(relay.wechat.text(c.openid, 'one more question'));
  const since = await waitingSince(c.openid);
  const openedAt = await redis.hget(keys.customer(c.openid), 'openedAt');
  t.ok(openedAt, 'the new conversation has its start');
  void relay.pusher.worker.resume();
  await eventually('the retried /close tells its agent', () => notices(c.userId, c.agent).some((n) => n.includes('Conversation closed')));
  t.equal(await redis.zscore(keys.deskUnanswered, c.openid), since, 'the new question is still owed an answer');
  t.equal(await redis.hget(keys.customer(c.openid), 'openedAt'), openedAt, 'the new conversation keeps its start');
  // Answered, so no move for it follows this test.
  await im.agentSend(c.agent, c.userId, [textElem('Here is the answer')]);
  await eventually('the answer clears the wait', async () => (await redis.zscore(keys.deskUnanswered, c.openid)) === null);
});
