import { Readable } from 'node:stream';
import { ImClient, UserSigCache, textElem } from '@wxim/im';
import { ImSimulator, SANDBOX, WechatApiSimulator, fakeOpenId, imApps, wechatApiApps } from '@wxim/sandbox';
import { SANDBOX_SECOND } from '@wxim/config';
import { clientCredentialToken, stableToken } from '@wxim/wechat';
import t from 'tap';
import { request } from 'undici';

const json = async <T>(url: string, init?: Parameters<typeof request>[1]): Promise<T> => (await (await request(url, init)).body.json()) as T;

t.test('two IM apps on one port: each call reaches the app its sdkappid names, and only that app', async (t) => {
  const first = new ImSimulator({ sdkAppId: SANDBOX.imSdkAppId, secretKey: SANDBOX.imSecretKey, agents: SANDBOX.imAgents });
  const second = new ImSimulator({ sdkAppId: SANDBOX_SECOND.imSdkAppId, secretKey: SANDBOX_SECOND.imSecretKey, agents: SANDBOX_SECOND.imAgents });
  const front = imApps([first, second]);
  const base = await front.listen();
  t.teardown(() => front.close());
  const client = (sdkAppId: number, secretKey: string) => {
    const c = new ImClient({ sdkAppId, admin: 'administrator', userSig: new UserSigCache(sdkAppId, secretKey, 'administrator'), apiBase: base });
    t.teardown(() => c.close());
    return c;
  };

  const toSecond = client(SANDBOX_SECOND.imSdkAppId, SANDBOX_SECOND.imSecretKey);
  await toSecond.importAccount('customer-b');
  await toSecond.sendC2C({ from: 'customer-b', to: 'agent3', msgSeq: 1, msgRandom: 7, body: [textElem('for the second app')] });
  t.same(
    second.messages.map((m) => [m.from, m.to]),
    [['customer-b', 'agent3']],
    "the second app's client reached the second app",
  );
  t.same(first.messages, [], 'the first app saw nothing');
  t.notOk(first.accounts.has('customer-b'), 'nor the import');

  const toFirst = client(SANDBOX.imSdkAppId, SANDBOX.imSecretKey);
  await toFirst.importAccount('customer-a');
  await toFirst.sendC2C({ from: 'customer-a', to: 'agent1', msgSeq: 1, msgRandom: 7, body: [textElem('for the first app')] });
  t.equal(first.messages.length, 1, 'and the first app is reached the same way');
  t.equal(second.messages.length, 1);

  // An agent of the other app is no account of this one: IM refuses, as it would.
  await t.rejects(toSecond.sendC2C({ from: 'customer-b', to: 'agent1', msgSeq: 2, msgRandom: 8, body: [textElem('x')] }), /90012|does not exist/);
  const stranger = await json<{ ErrorCode: number }>(`${base}/v4/openim/sendmsg?sdkappid=1400000099&identifier=administrator&usersig=x&random=1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  t.equal(stranger.ErrorCode, 70020, 'an app not held here: sdkappid not found, as IM answers');

  t.equal((await json<unknown[]>(`${base}/sim/messages`)).length, 1, '/sim/* without sdkappid: the first app');
  t.same(
    (await json<{ to: string }[]>(`${base}/sim/messages?sdkappid=${SANDBOX_SECOND.imSdkAppId}`)).map((m) => m.to),
    ['agent3'],
    'with sdkappid: that app',
  );
});

t.test("two Official Accounts' APIs on one port: tokens by AppID, every other call by the token's account", async (t) => {
  const first = new WechatApiSimulator({ appId: SANDBOX.appId, secret: SANDBOX.appSecret });
  const second = new WechatApiSimulator({ appId: SANDBOX_SECOND.appId, secret: SANDBOX_SECOND.appSecret });
  const front = wechatApiApps([first, second]);
  const apiBase = await front.listen();
  t.teardown(() => front.close());

  const stable = stableToken({ apiBase, appId: SANDBOX_SECOND.appId, secret: SANDBOX_SECOND.appSecret });
  const cgi = clientCredentialToken({ apiBase, appId: SANDBOX.appId, secret: SANDBOX.appSecret });
  t.teardown(async () => {
    await stable.close();
    await cgi.close();
  });
  const secondToken = (await stable.fetch(false)).token;
  const firstToken = (await cgi.fetch(false)).token;
  t.ok(second.issued(secondToken) && !first.issued(secondToken), "stable_token (the AppID in its body): the second account's");
  t.ok(first.issued(firstToken) && !second.issued(firstToken), "cgi-bin/token (the AppID in its query): the first account's");
  const mixed = clientCredentialToken({ apiBase, appId: SANDBOX_SECOND.appId, secret: SANDBOX.appSecret });
  t.teardown(() => mixed.close());
  await t.rejects(mixed.fetch(false), /40125|appsecret/, "one account's secret does not pass for another's");

  const send = (token: string, openid: string, content: string) =>
    json<{ errcode: number }>(`${apiBase}/cgi-bin/message/custom/send?access_token=${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ touser: openid, msgtype: 'text', text: { content } }),
    });
  const customer = fakeOpenId();
  second.customerActed(customer, 'message');
  t.equal((await send(secondToken, customer, 'hello from the second')).errcode, 0);
  t.same(
    second.sent.map((m) => m.payload['content']),
    ['hello from the second'],
    "the send with the second's token reached the second account",
  );
  t.same(first.sent, [], 'the first account delivered nothing');
  t.equal((await send(firstToken, customer, 'wrong account')).errcode, 45015, "the first account's customers are its own: no window for this one");
  t.equal((await send('not-a-token', customer, 'x')).errcode, 40001, 'a token nobody issued: refused as WeChat does');

  t.same(await json(`${apiBase}/sim/sent`), [], '/sim/* without appid: the first account');
  t.equal((await json<unknown[]>(`${apiBase}/sim/sent?appid=${SANDBOX_SECOND.appId}`)).length, 1, 'with appid: that account');
});

t.test("a token request over the front's limit, chunked, is answered 413 rather than cut off", async (t) => {
  const front = wechatApiApps([new WechatApiSimulator({ appId: SANDBOX.appId, secret: SANDBOX.appSecret })]);
  const apiBase = await front.listen();
  t.teardown(() => front.close());
  // No Content-Length: the front learns the size only by reading, 4 KB at a time.
  async function* chunked() {
    yield Buffer.from('{"grant_type":"client_credential","padding":"');
    for (let i = 0; i < 5; i++) yield Buffer.from('x'.repeat(4 * 1024));
    yield Buffer.from('"}');
  }
  const res = await request(`${apiBase}/cgi-bin/stable_token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: Readable.from(chunked()),
  });
  t.equal(res.statusCode, 413);
  t.same(await res.body.json(), { error: 'body too large' });
});
