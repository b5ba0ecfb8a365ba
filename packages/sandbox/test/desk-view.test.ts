import { DeskView } from '@wxim/sandbox';
import { DeskPresence, stateKeys } from '@wxim/state';
import { Redis } from 'ioredis';
import t from 'tap';
import { startTestRedis, testPrefix } from '@wxim/testkit';

const server = await startTestRedis();
const redis = new Redis(server.url);
t.teardown(async () => {
  redis.disconnect();
  await server.close();
});

t.test("the desk as the page shows it: each agent's recorded state and open conversations, the customers waiting longest first", async (t) => {
  const prefix = testPrefix();
  const keys = stateKeys(prefix);
  const presence = new DeskPresence(redis, keys, prefix);
  await presence.record('agent1', { action: 'Logout', eventTime: 2 });
  await presence.record('agent2', { action: 'Disconnect' });
  await presence.record('agent3', { action: 'Login' });
  await redis.hset(keys.agentState, 'agent4', 'not json');
  await redis.zadd(keys.agentLoad, 3, 'agent3', 1, 'agent1');
  await redis.zadd(keys.deskWaiting, 2000, 'customer-b', 1000, 'customer-a');
  const desk = await new DeskView(redis, keys, ['agent1', 'agent2', 'agent3', 'agent4', 'agent5']).read();
  t.same(desk.agents, [
    { agent: 'agent1', action: 'Logout', online: false, open: 1 },
    { agent: 'agent2', action: 'Disconnect', online: false, open: 0 },
    { agent: 'agent3', action: 'Login', online: true, open: 3 },
    { agent: 'agent4', online: true, open: 0 },
    { agent: 'agent5', online: true, open: 0 },
  ]);
  t.same(desk.waiting, [
    { openid: 'customer-a', since: 1000 },
    { openid: 'customer-b', since: 2000 },
  ]);
  t.equal(desk.waitingCount, 2);
});

t.test('a long queue is counted in full and listed in part', async (t) => {
  const keys = stateKeys(testPrefix());
  for (let i = 0; i < 25; i++) await redis.zadd(keys.deskWaiting, i, `customer-${i}`);
  const desk = await new DeskView(redis, keys, []).read();
  t.equal(desk.waitingCount, 25);
  t.equal(desk.waiting.length, 20);
  t.equal(desk.waiting[0]?.openid, 'customer-0', 'the one waiting longest first');
  t.same(desk.agents, []);
});
