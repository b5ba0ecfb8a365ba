import { textElem } from '@wxim/im';
import { fakeOpenId } from '@wxim/sandbox';
import { twoWayForTests } from '@wxim/testkit';
import t from 'tap';

const relay = await twoWayForTests(t);
const { im, wechatApi } = relay;
const second = await relay.startPusher();

async function conversation() {
  const openid = fakeOpenId();
  const agent = await relay.customerWrites(openid, 'hello');
  return { openid, agent, userId: im.messages.find((m) => m.cloudCustomData?.includes(openid))!.from };
}

t.test('one token serves two pushers of the fleet: fetched once, used by both', async (t) => {
  const conversations = await Promise.all(Array.from({ length: 6 }, conversation));
  for (const { agent, userId } of conversations) for (let i = 0; i < 3; i++) await im.agentSend(agent, userId, [textElem(`reply ${i}`)]);
  for (const { openid } of conversations) t.equal((await relay.waitForSent(openid, 3)).length, 3);
  const fetches = wechatApi.stats.tokenFetches;
  t.equal(fetches.stable + fetches.token + fetches.forced, 1, 'one fetch for the whole fleet');
  const [a, b] = [await relay.pusher.tokens.read(), await second.tokens.read()];
  t.ok(a !== undefined && a.token === b?.token, 'both read the same stored token');
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
