// An encrypted push costs the gateway one round trip to Redis before its answer: the store, the
// line and the look at whether the customer waits go in one MULTI, on the store's own connection.
// A plain push (its body not signed) first binds its signed address to its body: one round trip
// more, before anything is stored. Watched with MONITOR on a Redis of the test's own.
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { DEFAULT_WAITING_TEXT } from '@wxim/config';
import { DeskPresence, stateKeys } from '@wxim/state';
import { AGENTS, startGateway, startTestRedis, watchRedis } from '@wxim/testkit';

const redis = await startTestRedis({ own: true });
// Agents known and every one logged out: a customer's message is answered with the waiting text.
const gw = await startGateway(redis.url, { IM_AGENTS: AGENTS.join(',') });
const state = new Redis(redis.url);
t.teardown(async () => {
  state.disconnect();
  await gw.close();
  await redis.close();
});
const presence = new DeskPresence(state, stateKeys(gw.config.queuePrefix), gw.config.queuePrefix);
for (const agent of AGENTS) await presence.record(agent, { action: 'Logout', eventTime: Date.now() });

/** What clients sent Redis while `push` ran (not what the scripts they ran did: MONITOR shows those too, from "lua"), health checks aside. */
async function commandsOf<R>(t: Test, push: () => Promise<R>): Promise<{ res: R; commands: { client: string; command: string }[] }> {
  const seen: { client: string; command: string }[] = [];
  const monitor = await watchRedis(redis.url, (args, source) => {
    if (!source.includes('lua')) seen.push({ client: source, command: args[0]!.toLowerCase() });
  });
  t.teardown(() => monitor.stop());
  const res = await push();
  return { res, commands: seen.filter((c) => c.command !== 'ping' && c.command !== 'info') };
}

t.test("a customer's message is stored, put in line and looked at in one transaction, the answer carrying the waiting text", async (t) => {
  const wx = gw.platform('safe');
  // Warm: the store's connection sends each script once in full (EVAL), then by its digest.
  await wx.post(wx.sign(wx.text('oWarm00000000000000000000000', 'hello')));

  const { res, commands } = await commandsOf(t, () => wx.post(wx.sign(wx.text('oWaits0000000000000000000001', 'anyone there?'))));
  t.equal(res.status, 200);
  t.match(res.reply, DEFAULT_WAITING_TEXT, 'told they wait, in the (encrypted) answer');

  t.same(
    commands.map((c) => c.command),
    ['multi', 'evalsha', 'evalsha', 'evalsha', 'exec'],
    'one MULTI: the job, its place in line and the look; nothing before or after it',
  );
  t.equal(new Set(commands.map((c) => c.client)).size, 1, 'on one connection');
  t.equal(await gw.jobCount(), 2, 'both messages stored');
});

t.test("a plain push's signed address is bound to its body first, then it is stored in the one transaction", async (t) => {
  const wx = gw.platform('plain');
  await wx.post(wx.sign(wx.text('oWarm00000000000000000000002', 'hello')));
  const { res, commands } = await commandsOf(t, () => wx.post(wx.sign(wx.text('oWaits0000000000000000000002', 'anyone there?'))));
  t.equal(res.status, 200);
  t.same(
    commands.map((c) => c.command),
    ['evalsha', 'multi', 'evalsha', 'evalsha', 'evalsha', 'exec'],
    'the address claimed, then the one MULTI',
  );
  t.equal(await gw.jobCount(), 4, 'stored');
});
