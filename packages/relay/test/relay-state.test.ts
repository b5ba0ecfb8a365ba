import { AgentLoad, ConversationLine, RateGate, RelayTurn, stateKeys } from '@wxim/relay';
import { Redis } from 'ioredis';
import t from 'tap';
import { startTestRedis, testPrefix } from '../../../test/helpers/redis.js';

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
  return { keys, jobs, job, line: new ConversationLine(redis, keys, jobs), turn: (a: string[] = agents) => new RelayTurn(redis, keys, jobs, a) };
}

t.test('a line lets only its head relay, in the order of appends, and skips entries whose job is gone', async (t) => {
  const { job, jobs, line, turn } = setup(['agent_a']);
  for (const id of ['j1', 'j2', 'j3']) await job(id);
  for (const id of ['j1', 'j2', 'j3', 'j1']) await line.append('o1', id);
  t.equal((await turn().begin('o1', 'j2', true)).turn, 'waiting');
  t.equal((await turn().begin('o1', 'j9', true)).turn, 'absent');
  const head = await turn().begin('o1', 'j1', true);
  t.match(head, { turn: 'head', customer: { userId: 'o1', imported: false, agent: 'agent_a' } });
  await redis.hset(`${jobs}j2`, 'finishedOn', '1'); // j2 finished elsewhere (e.g. retried from the dashboard)
  t.equal(await line.finish('o1', 'j1'), 'j3', 'the finished j2 is dropped on the way');
  t.equal(await line.finish('o1', 'j3'), undefined, 'the line is empty');
});

t.test('new customers go to the agent with the fewest; a removed agent’s customer moves', async (t) => {
  const { job, line, turn, keys } = setup(['agent_a', 'agent_b']);
  const agentOf = async (openid: string, agents?: string[]) => {
    await job(`${openid}-1`);
    await line.append(openid, `${openid}-1`);
    const begun = await turn(agents).begin(openid, `${openid}-1`, true);
    await line.finish(openid, `${openid}-1`);
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
  const agentOf = async (openid: string) => {
    await job(`${openid}-1`);
    await line.append(openid, `${openid}-1`);
    const begun = await turn().begin(openid, `${openid}-1`, true);
    await line.finish(openid, `${openid}-1`);
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

t.test('the first-attempt time is kept across attempts and cleared when the job finishes', async (t) => {
  const { job, line, turn, keys } = setup(['agent_a']);
  await job('j1');
  await line.append('o2', 'j1');
  const first = await turn().begin('o2', 'j1', true);
  await new Promise((r) => setTimeout(r, 20));
  const again = await turn().begin('o2', 'j1', true);
  t.ok(first.turn === 'head' && again.turn === 'head' && again.firstAttemptAt === first.firstAttemptAt);
  await line.finish('o2', 'j1');
  t.equal(await redis.exists(keys.firstAttempt('j1')), 0);
});

t.test('the rate gate holds several workers together under the cap of each one-second window', async (t) => {
  const { keys } = setup([]);
  const cap = 10;
  const workers = [new RateGate(redis, keys, cap), new RateGate(redis, keys, cap), new RateGate(redis, keys, cap)];
  const seconds: number[] = [];
  await Promise.all(
    workers.map(async (gate) => {
      for (let i = 0; i < 8; i++) {
        await gate.acquire('openim/sendmsg');
        seconds.push(Math.floor(Date.now() / 1000));
      }
    }),
  );
  const perSecond = new Map<number, number>();
  for (const s of seconds) perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
  t.equal(seconds.length, 24, 'every call went through');
  t.ok(Math.max(...perSecond.values()) <= cap, `at most ${cap} per second: ${JSON.stringify([...perSecond.values()])}`);
  t.ok(perSecond.size >= 3, 'the calls over the cap waited for the next windows');
});
