import { ImClient, ImPermanentError, ImRateLimitedError, UserSigCache, textElem } from '@wxim/im';
import { ImSimulator, SANDBOX } from '@wxim/sandbox';
import t, { type Test } from 'tap';

const CUSTOMER = 'o6_bmjrPTlm6_2sgVt7hMZOPfL2M';

async function setup(t: Test) {
  const sim = new ImSimulator({ sdkAppId: SANDBOX.imSdkAppId, secretKey: SANDBOX.imSecretKey, admin: SANDBOX.imAdmin, agents: ['agent1'] });
  const client = new ImClient({
    sdkAppId: SANDBOX.imSdkAppId,
    admin: SANDBOX.imAdmin,
    userSig: new UserSigCache(SANDBOX.imSdkAppId, SANDBOX.imSecretKey, SANDBOX.imAdmin),
    apiBase: await sim.listen(),
  });
  await client.importAccount(CUSTOMER);
  t.teardown(async () => {
    await client.close();
    await sim.close();
  });
  return { sim, client };
}

async function shown(client: ImClient, msgKey: string) {
  const now = Math.floor(Date.now() / 1000);
  for await (const page of client.history('agent1', CUSTOMER, now - 60, now + 1)) {
    const found = page.find((m) => m.MsgKey === msgKey);
    if (found !== undefined) return found;
  }
  return undefined;
}

t.test("modify_c2c_msg overwrites a message's CloudCustomData as the history then shows it, and leaves its body", async (t) => {
  const { sim, client } = await setup(t);
  const sent = await sim.agentSend('agent1', CUSTOMER, [textElem('hello')], { cloudCustomData: '{"messageReply":{"messageID":"m0"}}' });
  const data = '{"messageReply":{"messageID":"m0"},"relayMark":{"state":"delivered","at":1}}';
  t.equal(await client.modifyC2CCustomData({ from: 'agent1', to: CUSTOMER, msgKey: sent.msgKey, cloudCustomData: data }), true);
  const m = await shown(client, sent.msgKey);
  t.equal(m?.CloudCustomData, data);
  t.same(m?.MsgBody, [textElem('hello')], 'the body is as sent');
  t.equal(sim.stats.modified, 1);
});

t.test("a MsgKey IM does not hold, or one of another conversation, is IM's error and changes nothing", async (t) => {
  const { sim, client } = await setup(t);
  const sent = await sim.agentSend('agent1', CUSTOMER, [textElem('hello')]);
  const err = await client.modifyC2CCustomData({ from: 'agent1', to: CUSTOMER, msgKey: 'no_such_key', cloudCustomData: '{}' }).catch((e: unknown) => e);
  t.type(err, ImPermanentError);
  t.equal((err as ImPermanentError).code, 20001);
  const reversed = await client.modifyC2CCustomData({ from: CUSTOMER, to: 'agent1', msgKey: sent.msgKey, cloudCustomData: '{}' }).catch((e: unknown) => e);
  t.type(reversed, ImPermanentError, 'sender and recipient must be the message’s');
  t.equal((await shown(client, sent.msgKey))?.CloudCustomData, undefined);
  t.equal(sim.stats.modified, 0);
});

t.test('modify_c2c_msg has IM’s frequency limit of 200 calls a second like every command', async (t) => {
  const { sim, client } = await setup(t);
  const sent = await sim.agentSend('agent1', CUSTOMER, [textElem('hello')]);
  const results = await Promise.allSettled(
    Array.from({ length: 260 }, (_, i) => client.modifyC2CCustomData({ from: 'agent1', to: CUSTOMER, msgKey: sent.msgKey, cloudCustomData: `{"n":${i}}` })),
  );
  const limited = results.filter((r) => r.status === 'rejected' && r.reason instanceof ImRateLimitedError).length;
  const ok = results.filter((r) => r.status === 'fulfilled').length;
  t.ok(limited > 0, `${limited} over the limit answered 60007`);
  t.ok(ok <= 200 * 2, `${ok} let through`);
  const perSecond = sim.callsPerSecond()['openim/modify_c2c_msg'] ?? [];
  t.ok(
    perSecond.every(([, n]) => n <= 200),
    `never over 200 in a second: ${JSON.stringify(perSecond)}`,
  );
});
