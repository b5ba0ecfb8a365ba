import { AgentLoad, ConversationLine, LockLostError, RateGate, RelayTurn, ReplyWindow, lineOnRetry, paceCap, paceInterval, stateKeys } from '@wxim/state';
import { queueLayout } from '@wxim/queue';
import { Redis } from 'ioredis';
import t from 'tap';
import { startTestRedis, testPrefix } from '@wxim/testkit';

const server = await startTestRedis();
const redis = new Redis(server.url);
t.teardown(async () => {
  redis.disconnect();
  await server.close();
});

function setup(agents: string[]) {
  const prefix = testPrefix();
  const keys = stateKeys(prefix);
  const jobs = `${prefix}:wechat-inbound:`;
  const job = (id: string) => redis.hset(`${jobs}${id}`, 'name', 'text');
  return {
    prefix,
    keys,
    jobs,
    job,
    line: new ConversationLine(redis, keys, 'wechat-inbound', keys.relayIds),
    turn: (a: string[] = agents) => new RelayTurn(redis, keys, 'wechat-inbound', a, { maxOpen: 20, idleMs: 48 * 3_600_000, staleMs: 120_000 }),
  };
}

t.test('a line lets only its head relay, in the order of appends, and skips entries whose job is gone', async (t) => {
  const { job, jobs, line, turn } = setup(['agent_a']);
  for (const id of ['j1', 'j2', 'j3']) await job(id);
  for (const id of ['j1', 'j2', 'j3', 'j1']) await line.append('o1', id);
  t.equal((await turn().begin('o1', 'j2', 'open')).turn, 'waiting');
  t.equal((await turn().begin('o1', 'j9', 'open')).turn, 'absent');
  const head = await turn().begin('o1', 'j1', 'open');
  t.match(head, { turn: 'head', customer: { imported: false, agent: 'agent_a' } });
  t.equal(head.turn === 'head' ? head.customer.userId : 'x', undefined, 'no UserID chosen yet for a customer never seen');
  await redis.hset(`${jobs}j2`, 'finishedOn', '1'); // j2 finished elsewhere (e.g. retried from the dashboard)
  await redis.hset(`${jobs}j1`, 'finishedOn', '2'); // as BullMQ records it before the worker leaves the line
  t.equal(await line.finish('o1', 'j1'), 'j3', 'the finished j2 is dropped on the way');
  await redis.del(`${jobs}j3`); // removed by retention: gone counts as finished
  t.equal(await line.finish('o1', 'j3'), undefined, 'the line is empty');
});

t.test('a line whose jobs still wait lives on from each look: a week waiting for an agent keeps their order', async (t) => {
  const { keys, job, line, turn } = setup(['agent_a']);
  for (const id of ['j1', 'j2']) await job(id);
  for (const id of ['j1', 'j2']) await line.append('o1', id);
  const key = keys.line('wechat-inbound', 'o1');
  const week = 7 * 24 * 3600;
  t.ok((await redis.ttl(key)) > week - 10, 'a week from the last append');
  // Almost a week later, both jobs still waiting (every agent away): the jobs look, as they do every 30 s.
  await redis.expire(key, 60);
  t.equal((await turn().begin('o1', 'j2', 'open')).turn, 'waiting', 'the second looks first');
  t.ok((await redis.ttl(key)) > week - 10, 'and the line has a week again');
  await redis.expire(key, 60);
  t.equal((await turn().begin('o1', 'j1', 'open')).turn, 'head', 'the first is still the head');
  t.ok((await redis.ttl(key)) > week - 10, 'a look at the head renews it too');
});

t.test('a finish wakes the next job of the line, in the same round trip, only if it stepped aside', async (t) => {
  const { job, jobs, prefix, line } = setup(['agent_a']);
  const layout = queueLayout(prefix, 'wechat-inbound');
  for (const id of ['w1', 'w2', 'w3']) await job(id);
  for (const id of ['w1', 'w2', 'w3']) await line.append('o7', id);
  await redis.zadd(layout.delayed, Date.now() + 60_000, 'w2'); // stepped aside for w1's turn
  await redis.rpush(layout.wait, 'other');
  await redis.hset(`${jobs}w1`, 'finishedOn', '1');
  t.equal(await line.finish('o7', 'w1'), 'w2', 'the next job, as a finish answers');
  t.equal(await redis.zscore(layout.delayed, 'w2'), null, 'no longer delayed');
  t.same(await redis.lrange(layout.wait, 0, -1), ['other', 'w2'], 'at the front of the wait list (its right end, taken next)');
  t.equal(await redis.zscore(layout.marker, '0'), '0', 'a marker wakes a blocked worker');
  t.equal(await redis.hget(`${jobs}w2`, 'delay'), '0');
  await redis.hset(`${jobs}w2`, 'finishedOn', '2');
  t.equal(await line.finish('o7', 'w2'), 'w3', 'a next job still waiting is named');
  t.same(await redis.lrange(layout.wait, 0, -1), ['other', 'w2'], 'and left where it waits: not woken twice');
});

t.test('a job this server does not hold as finished keeps its place and its ids (a completion lost with a failed-over primary)', async (t) => {
  const { job, jobs, line, turn, keys } = setup(['agent_a']);
  for (const id of ['k1', 'k2']) await job(id);
  for (const id of ['k1', 'k2']) await line.append('o3', id);
  const first = await turn().begin('o3', 'k1', 'open');
  t.equal(await line.finish('o3', 'k1'), 'k1', 'still the head: it runs again from its place');
  t.equal(await redis.exists(keys.relayIds('k1')), 1, 'with the ids it was first relayed with');
  const again = await turn().begin('o3', 'k1', 'open');
  t.ok(first.turn === 'head' && again.turn === 'head' && again.place === first.place, 'the same place (MsgSeq): IM drops the repeat');
  await redis.hset(`${jobs}k1`, 'finishedOn', '1');
  t.equal(await line.finish('o3', 'k1'), 'k2', 'once finished here, it leaves');
});

t.test("each queue has lines of its own: a customer's reply line does not wait on their inbound line", async (t) => {
  const { keys, job, line } = setup(['agent_a']);
  const replies = new ConversationLine(redis, keys, 'agent-replies', (id) => `${keys.jobs('agent-replies')}${id}:state`);
  await job('in1');
  await redis.hset(`${keys.jobs('agent-replies')}r1`, 'name', 'reply');
  await line.append('o1', 'in1');
  await replies.append('o1', 'r1');
  t.equal(await line.turn('o1', 'in1'), 'head');
  t.equal(await replies.turn('o1', 'r1'), 'head', 'the reply is at the head of its own line while the inbound job is too');
  t.equal(await line.turn('o1', 'r1'), 'absent', 'the reply is not in the inbound line');
});

t.test('an inbound line kept by the release before lines were scoped is carried over, in its order, on the next append', async (t) => {
  const { keys, job, line } = setup(['agent_a']);
  for (const id of ['old1', 'old2', 'new1']) await job(id);
  await redis.zadd(keys.legacyLine('wechat-inbound', 'o1')!, 5, 'old1', 6, 'old2');
  await redis.set(keys.lineSeq, 6);
  await line.append('o1', 'new1');
  t.equal(await redis.exists(keys.legacyLine('wechat-inbound', 'o1')!), 0, 'the old key is gone');
  t.same(await redis.zrange(keys.line('wechat-inbound', 'o1'), 0, -1), ['old1', 'old2', 'new1']);
  t.equal(await line.turn('o1', 'old1'), 'head');
});

t.test('new customers go to the agent with the fewest; a removed agent’s customer moves', async (t) => {
  const { job, line, turn, keys } = setup(['agent_a', 'agent_b']);
  let n = 0;
  // Each call a new message of the customer's (a job begun once keeps its agent on a retry).
  const agentOf = async (openid: string, agents?: string[]) => {
    const id = `${openid}-${++n}`;
    await job(id);
    await line.append(openid, id);
    const begun = await turn(agents).begin(openid, id, 'open');
    await redis.hset(`${keys.jobs('wechat-inbound')}${id}`, 'finishedOn', '1');
    await line.finish(openid, id);
    return begun.turn === 'head' ? begun.customer.agent : undefined;
  };
  t.same([await agentOf('c1'), await agentOf('c2'), await agentOf('c3')], ['agent_a', 'agent_b', 'agent_a']);
  t.equal(await agentOf('c2'), 'agent_b', 'sticky');
  t.equal(await agentOf('c2', ['agent_a', 'agent_c']), 'agent_c', 'agent_b left: the least-loaded remaining agent takes over');
  t.same(await redis.zrange(keys.agentLoad, 0, -1, 'WITHSCORES'), ['agent_b', '0', 'agent_c', '1', 'agent_a', '2']);
});

t.test('an unfollow releases the customer from their agent’s load, once; a returning follower counts again', async (t) => {
  const { job, line, turn, keys } = setup(['agent_a', 'agent_b']);
  const load = new AgentLoad(redis, keys);
  let n = 0;
  const agentOf = async (openid: string) => {
    const id = `${openid}-${++n}`;
    await job(id);
    await line.append(openid, id);
    const begun = await turn().begin(openid, id, 'open');
    await redis.hset(`${keys.jobs('wechat-inbound')}${id}`, 'finishedOn', '1');
    await line.finish(openid, id);
    return begun.turn === 'head' ? begun.customer.agent : undefined;
  };
  const score = async (agent: string) => Number(await redis.zscore(keys.agentLoad, agent));
  t.same([await agentOf('u1'), await agentOf('u2')], ['agent_a', 'agent_b']);
  await load.release('u1');
  await load.release('u1'); // a retried unfollow
  t.same([await score('agent_a'), await score('agent_b')], [0, 1], 'u1 left agent_a, counted once');
  t.equal(await agentOf('u3'), 'agent_a', 'the next new customer goes to the agent who now has fewer');
  t.equal(await agentOf('u1'), 'agent_a', 'u1 comes back to their agent');
  t.same([await score('agent_a'), await score('agent_b')], [2, 1], 'and counts again');
});

t.test('the ids a job is first relayed with are kept across attempts; dropped when it completes, kept when it failed', async (t) => {
  const { job, line, turn, keys } = setup(['agent_a']);
  await job('j1');
  await job('j2');
  await line.append('o2', 'j1');
  await line.append('o2', 'j2');
  const first = await turn().begin('o2', 'j1', 'open');
  await new Promise((r) => setTimeout(r, 20));
  const again = await turn().begin('o2', 'j1', 'open');
  t.ok(first.turn === 'head' && again.turn === 'head' && again.firstAttemptAt === first.firstAttemptAt && again.place === first.place, 'the same ids');
  t.ok(first.turn === 'head' && Math.abs(first.firstAttemptAt - Number((await redis.time())[0]) * 1000) < 2000, "the first attempt is in ms of Redis's clock");
  await redis.hset(`${keys.jobs('wechat-inbound')}j1`, 'finishedOn', '1');
  await line.finish('o2', 'j1');
  t.equal(await redis.exists(keys.relayIds('j1')), 0, 'completed: gone');
  const failed = await turn().begin('o2', 'j2', 'open');
  await redis.hset(`${keys.jobs('wechat-inbound')}j2`, 'finishedOn', '1');
  await line.finish('o2', 'j2', true);
  t.ok((await redis.ttl(keys.relayIds('j2'))) > 7 * 24 * 3600, 'failed: kept longer than the failed job itself');
  // Retried by hand: the job joins the back of its line again, and is relayed with its first ids.
  await new Promise((r) => setTimeout(r, 20));
  await redis.hdel(`${keys.jobs('wechat-inbound')}j2`, 'finishedOn');
  await line.append('o2', 'j2');
  const retried = await turn().begin('o2', 'j2', 'open');
  t.ok(failed.turn === 'head' && retried.turn === 'head', 'at the head');
  t.ok(
    failed.turn === 'head' && retried.turn === 'head' && retried.place === failed.place && retried.firstAttemptAt === failed.firstAttemptAt,
    'with its first place and first attempt time',
  );
});

t.test("a job's first agent is new to the turn that recorded it, and is forgotten only under the job's lock and only if still theirs", async (t) => {
  const { job, jobs, line, turn } = setup(['agent_a', 'agent_b']);
  await job('j1');
  await line.append('o9', 'j1');
  const first = await turn().begin('o9', 'j1', 'open');
  t.match(first, { turn: 'head', firstAgent: 'agent_a', firstAgentNew: true }, 'recorded by this turn');
  const again = await turn().begin('o9', 'j1', 'open');
  t.match(again, { turn: 'head', firstAgent: 'agent_a' });
  t.notOk(again.turn === 'head' && again.firstAgentNew, 'not new to the next turn: an earlier attempt may have sent');
  const lease = { lockKey: `${jobs}j1:lock`, token: 'tok-1', lockMs: 30_000 };
  await redis.set(lease.lockKey, 'tok-2');
  t.notOk(await turn().forgetFirstAgent('j1', 'agent_a', lease), 'not while another holds the lock');
  await redis.set(lease.lockKey, 'tok-1');
  t.notOk(await turn().forgetFirstAgent('j1', 'agent_b', lease), 'not another agent');
  t.ok(await turn().forgetFirstAgent('j1', 'agent_a', lease), 'forgotten');
  const after = await turn().begin('o9', 'j1', 'open');
  t.match(after, { turn: 'head', firstAgent: 'agent_a', firstAgentNew: true }, 'the next turn records the agent serving now');
});

t.test('a job begun by the release before relay ids keeps the first attempt that release recorded', async (t) => {
  const { job, line, turn, keys } = setup(['agent_a']);
  await job('j1');
  await line.append('o3', 'j1');
  await redis.set(keys.earlierFirstAttempt('j1'), '1700000000000');
  const begun = await turn().begin('o3', 'j1', 'open');
  t.ok(begun.turn === 'head' && begun.firstAttemptAt === 1_700_000_000_000, 'carried over');
  t.equal(await redis.exists(keys.earlierFirstAttempt('j1')), 0, 'and the old key removed');
});

t.test("the turn records the customer's action in their reply window at the head, once per job, as ReplyWindow.record does", async (t) => {
  const { keys, job, line, turn } = setup(['agent_a']);
  const window = new ReplyWindow(redis, keys);
  const at = Date.now() - 1000;
  for (const id of ['w1', 'w2']) await job(id);
  for (const id of ['w1', 'w2']) await line.append('o5', id);
  t.equal((await turn().begin('o5', 'w2', 'open', { kind: 'message', atMs: at + 500, id: 'w2' })).turn, 'waiting');
  t.match(await window.check('o5', at), { open: false, reason: 'never' }, 'not at the head: nothing recorded');
  t.equal((await turn().begin('o5', 'w1', 'open', { kind: 'message', atMs: at, id: 'w1' })).turn, 'head');
  t.match(await window.check('o5', at), { open: true, remaining: 5, deadline: at + 48 * 3_600_000, lastActionAt: at }, "the head's message opens the window");
  t.equal(await redis.zscore(keys.recentCustomers, 'o5'), String(at), 'among the recent customers');
  t.equal(await window.consume('o5', at), 4, 'a reply sent');
  await turn().begin('o5', 'w1', 'open', { kind: 'message', atMs: at, id: 'w1' });
  t.match(await window.check('o5', at), { open: true, remaining: 4 }, 'the same job again (a retry, a second look) gives no reply back');
  t.equal(await window.record('o5', 'message', at, 'w1'), false, 'and ReplyWindow.record sees it as recorded');
  await redis.hset(`${keys.jobs('wechat-inbound')}w1`, 'finishedOn', '1');
  await line.finish('o5', 'w1');
  await turn().begin('o5', 'w2', 'open', { kind: 'message', atMs: at + 500, id: 'w2' });
  t.match(await window.check('o5', at), { open: true, remaining: 5, lastActionAt: at + 500 }, 'the next message, at its head, opens it again');
  const none = setup(['agent_a']);
  await none.job('w3');
  await none.line.append('o6', 'w3');
  t.equal((await none.turn().begin('o6', 'w3', 'none')).turn, 'head');
  t.match(await new ReplyWindow(redis, none.keys).check('o6', at), { open: false, reason: 'never' }, 'a job with no action records nothing');
});

t.test('a customer who waits for an agent has their action recorded all the same: the agent may answer through WeChat', async (t) => {
  const { keys, job, line, turn } = setup(['agent_a']);
  await redis.hset(keys.agentState, 'agent_a', JSON.stringify({ account: 'agent_a', action: 'Logout' }));
  const at = Date.now();
  await job('x1');
  await line.append('o7', 'x1');
  const begun = await turn().begin('o7', 'x1', 'open', { kind: 'action', atMs: at, id: 'x1' });
  t.ok(begun.turn === 'head' && begun.customer.agent === undefined, 'no agent online: the customer waits');
  t.match(await new ReplyWindow(redis, keys).check('o7', at), { open: true, remaining: 3, deadline: at + 60_000 }, 'the follow opened its minute');
});

t.test('the rate gate spaces the calls of several workers evenly and never starts more than its cap in a second', async (t) => {
  const { keys } = setup([]);
  const limit = 50;
  const cap = paceCap(limit);
  const gates = [1, 2, 3].map(() => new RateGate(redis, keys, () => limit));
  const starts: number[] = [];
  const until = Date.now() + 2500;
  await Promise.all(
    gates.flatMap((gate) =>
      Array.from({ length: 8 }, async () => {
        while (Date.now() < until) starts.push(await gate.acquire({ platform: 'im', command: 'openim/sendmsg' }));
      }),
    ),
  );
  starts.sort((a, b) => a - b);
  let maxInSecond = 0;
  for (let i = 0, j = 0; i < starts.length; i++) {
    while (starts[i]! - starts[j]! >= 1000) j++;
    maxInSecond = Math.max(maxInSecond, i - j + 1);
  }
  t.ok(maxInSecond <= cap, `at most ${cap} starts in any second of Redis's clock: ${maxInSecond}`);
  const span = (starts.at(-1)! - starts[0]!) / 1000;
  t.ok(starts.length / span >= 0.95 * cap, `the budget is used: ${(starts.length / span).toFixed(1)} calls/s of ${cap}`);
  const gaps = starts.slice(1).map((s, i) => s - starts[i]!);
  const bunched = gaps.filter((g) => g < 500 / cap).length;
  t.ok(bunched <= gaps.length * 0.1, `spread over the second, not in bursts: ${bunched} of ${gaps.length} gaps under half the interval`);
});

t.test('the rate gate refuses a call whose job is no longer ours, and renews a lock running short', async (t) => {
  const { keys } = setup([]);
  const gate = new RateGate(redis, keys, () => 100);
  const lockKey = `${testPrefix()}:job:lock`;
  await redis.set(lockKey, 'ours', 'PX', 400);
  const now = await gate.acquire({ platform: 'im', command: 'openim/sendmsg' }, { lockKey, token: 'ours', lockMs: 30_000 });
  t.ok(Math.abs(now - Number((await redis.time())[0]) * 1000) < 2000, "resolves to Redis's time, in ms");
  t.ok((await redis.pttl(lockKey)) > 20_000, 'the lock, short of half its duration, was renewed');
  await redis.set(lockKey, 'another worker', 'PX', 30_000);
  await t.rejects(gate.acquire({ platform: 'im', command: 'openim/sendmsg' }, { lockKey, token: 'ours', lockMs: 30_000 }), LockLostError);
  await redis.del(lockKey);
  await t.rejects(
    gate.acquire({ platform: 'im', command: 'openim/sendmsg' }, { lockKey, token: 'ours', lockMs: 30_000 }),
    LockLostError,
    'an expired lock is lost too',
  );
});

t.test(
  "the turn takes its first call's turn when the customer is known to IM: at once when the pace has room now, else it reserves the call's slot, which the call then starts in with one more look",
  async (t) => {
    const { keys, job, line, turn } = setup(['agent_a']);
    const scope = { platform: 'im', command: 'openim/sendmsg' } as const;
    const gate = new RateGate(redis, keys, () => 1); // one call a second: a second call finds no room
    const window = keys.paceWindow(scope);
    const lease = (id: string) => ({ lockKey: `${keys.jobs('wechat-inbound')}${id}:lock`, token: 'ours', lockMs: 30_000 });
    for (const [id, openid] of [
      ['k1', 'known1'],
      ['k2', 'known2'],
      ['n1', 'new1'],
      ['l1', 'lost1'],
    ] as const) {
      await job(id);
      await line.append(openid, id);
      await redis.set(lease(id).lockKey, id === 'l1' ? 'another worker' : 'ours', 'PX', 30_000);
      if (openid !== 'new1') await redis.hset(keys.customer(openid), 'userId', `u_${openid}`, 'imported', '1', 'agent', 'agent_a');
    }
    const lost = await turn().begin('lost1', 'l1', 'open', undefined, gate.turnOf(scope, lease('l1')));
    t.match(lost, { turn: 'head' });
    t.notOk('firstCall' in lost, 'a job whose lock is not ours takes no turn');
    const fresh = await turn().begin('new1', 'n1', 'open', undefined, gate.turnOf(scope, lease('n1')));
    t.notOk('firstCall' in fresh, 'a customer IM does not know (imported first) takes no send turn');
    t.equal(await redis.zcard(window), 0, 'nothing counted yet');
    const known = await turn().begin('known1', 'k1', 'open', undefined, gate.turnOf(scope, lease('k1')));
    const [sec] = await redis.time();
    t.ok(known.turn === 'head' && known.firstCall !== undefined && Math.abs(known.firstCall.at - Number(sec) * 1000) < 2000, "taken, at Redis's time in ms");
    t.equal(await redis.zcard(window), 1, 'counted as a call started');
    const nextFree = Number(await redis.get(keys.pace(scope)));
    const full = await turn().begin('known2', 'k2', 'open', undefined, gate.turnOf(scope, lease('k2')));
    const reservedAt = performance.now();
    t.ok(full.turn === 'head' && full.firstCall?.slotAt !== undefined, 'no room this second: its slot is reserved');
    const slotAt = full.turn === 'head' ? full.firstCall!.slotAt! : 0;
    t.ok(
      slotAt - reservedAt > 900 && slotAt - reservedAt <= paceInterval(1) / 1000,
      `a second ahead, one interval at one call a second (${(slotAt - reservedAt).toFixed(0)} ms)`,
    );
    t.equal(await redis.zcard(window), 1, 'not counted as started yet');
    t.equal(Number(await redis.get(keys.pace(scope))), nextFree + paceInterval(1), 'the pace moved on past the reserved slot');
    const startedAt = await gate.startReserved(scope, slotAt, lease('k2'));
    t.ok(performance.now() >= slotAt, 'the call starts no earlier than its slot');
    const knownAt = known.turn === 'head' ? known.firstCall!.at : 0;
    t.ok(startedAt - knownAt >= 1000, `nor in the same second as the call before on Redis's clock (${startedAt - knownAt} ms later)`);
    t.equal(await redis.zcard(window), 1, 'counted as started once it starts (the call before has left the second)');
    await redis.set(lease('k2').lockKey, 'another worker', 'PX', 30_000);
    await t.rejects(gate.startReserved(scope, performance.now(), lease('k2')), LockLostError, 'a reserved slot still checks the lock right before the call');
  },
);

t.test('a job retried by hand joins its line, and what it did is kept a full term again from the retry', async (t) => {
  const { keys, job } = setup(['agent_a']);
  await job('in1');
  await redis.hset(`${keys.jobs('agent-replies')}r1`, 'name', 'reply');
  await redis.hset(keys.relayIds('in1'), 'first', '1', 'place', '1');
  await redis.hset(keys.replyProgress('r1'), 'sent:0', '1');
  // Both near their end (the job failed days ago, and its retry may fail again before it writes anything).
  await redis.pexpire(keys.relayIds('in1'), 5000);
  await redis.pexpire(keys.replyProgress('r1'), 5000);
  await lineOnRetry(redis, keys, 'wechat-inbound')({ id: 'in1', data: { message: { kind: 'text', fromUserName: 'o1' } } });
  await lineOnRetry(redis, keys, 'agent-replies')({ id: 'r1', data: { openid: 'o1' } });
  t.ok((await redis.ttl(keys.relayIds('in1'))) > 8 * 86_400 - 60, 'the relay ids kept eight days');
  t.ok((await redis.ttl(keys.replyProgress('r1'))) > 8 * 86_400 - 60, "the reply's progress kept eight days");
  t.same(await redis.zrange(keys.line('wechat-inbound', 'o1'), 0, -1), ['in1'], 'in its line');
  t.same(await redis.zrange(keys.line('agent-replies', 'o1'), 0, -1), ['r1'], 'in its line');
});
