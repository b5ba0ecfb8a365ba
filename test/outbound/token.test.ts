import { fileURLToPath } from 'node:url';
import { textElem } from '@wxim/im';
import { fakeOpenId } from '@wxim/sandbox';
import { eventually, freePort, runService, twoWayForTests } from '@wxim/testkit';
import t from 'tap';

const relay = await twoWayForTests(t);
const { im, wechatApi } = relay;
// A second pusher of the fleet in a process of its own, as deployed.
const port = await freePort();
const second = runService(fileURLToPath(new URL('../../services/wechat-pusher/dist/main.js', import.meta.url)), { ...relay.env, PUSHER_PORT: String(port) });
t.teardown(() => {
  second.child.kill('SIGTERM');
});
const metric = async (name: string) => {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith(name))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  } catch {
    return -1;
  }
};
await eventually('the second pusher is ready', async () => (await metric('wxim_pusher_jobs_in_flight')) >= 0);

async function conversation() {
  const openid = fakeOpenId();
  const agent = await relay.customerWrites(openid, 'hello');
  return { openid, agent, userId: im.messages.find((m) => m.cloudCustomData?.includes(openid))!.from };
}

t.test('one token serves two pusher processes: fetched once, used by both', async (t) => {
  const conversations = await Promise.all(Array.from({ length: 8 }, conversation));
  for (const { agent, userId } of conversations) for (let i = 0; i < 4; i++) await im.agentSend(agent, userId, [textElem(`reply ${i}`)]);
  for (const { openid } of conversations) t.equal((await relay.waitForSent(openid, 4)).length, 4);
  const fetches = wechatApi.stats.tokenFetches;
  t.equal(fetches.stable + fetches.token + fetches.forced, 1, 'one fetch for the whole fleet');
  const byProcess = await metric('wxim_pusher_replies_total');
  t.ok(byProcess > 0 && byProcess < 32, `both pushers delivered replies (the second process ${byProcess} of 32)`);
});

t.test('a token voided behind our back is refreshed once and the reply still arrives', async (t) => {
  const { openid, agent, userId } = await conversation();
  const before = await relay.pusher.tokens.read();
  wechatApi.invalidateTokens({ stableStaysStale: true });
  await im.agentSend(agent, userId, [textElem('after the token changed')]);
  const [sent] = await relay.waitForSent(openid, 1);
  t.match(sent, { payload: { content: 'after the token changed' } });
  const after = await relay.pusher.tokens.read();
  t.not(after?.token, before?.token, 'a new token is stored');
  t.equal(wechatApi.stats.tokenFetches.forced, 1, 'stable_token handed back the voided token, so one forced refresh');
});
