import { keyPrefix } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { parseFlatXml } from '@wxim/wechat';
import { Redis } from 'ioredis';
import t from 'tap';
import { AES_KEY, APP_ID, TOKEN, startGateway, startTestRedis } from '@wxim/testkit';
import { WechatPlatform } from '@wxim/sandbox';
import { request } from 'undici';

const redis = await startTestRedis();
t.teardown(() => redis.close());

t.test('with an EncodingAESKey: safe, compatible and plain pushes are all stored', async (t) => {
  const gw = await startGateway(redis.url);
  t.teardown(() => gw.close());
  for (const mode of ['safe', 'compatible', 'plain'] as const) {
    const wx = gw.platform(mode);
    const res = await wx.push(wx.text('oModes00000000000000000000001', `in ${mode} mode`));
    t.equal(res.status, 200, mode);
    t.equal(res.body, 'success', mode);
  }
  const contents = (await gw.gateway.queue.getJobs(['wait'])).map((j) => (j.data.message.kind === 'text' ? j.data.message.content : '')).sort();
  t.same(contents, ['in compatible mode', 'in plain mode', 'in safe mode']);
});

t.test('a follow in safe mode gets an encrypted welcome that decrypts and verifies', async (t) => {
  const gw = await startGateway(redis.url, { WELCOME_TEXT: '欢迎! Welcome <&> 🎉' });
  t.teardown(() => gw.close());
  const wx = gw.platform('safe');
  const res = await wx.push(wx.follow('oModes00000000000000000000002'));
  t.equal(res.status, 200);
  const envelope = parseFlatXml(res.body);
  t.same(Object.keys(envelope).sort(), ['Encrypt', 'MsgSignature', 'Nonce', 'TimeStamp']);
  t.match(envelope['TimeStamp'], /^\d{10}$/, 'TimeStamp in seconds');
  const reply = parseFlatXml(res.reply!);
  t.match(reply, { ToUserName: 'oModes00000000000000000000002', FromUserName: wx.accountId, MsgType: 'text', Content: '欢迎! Welcome <&> 🎉' });
  const plain = await gw.platform('plain').push(wx.follow('oModes00000000000000000000003'));
  t.match(plain.body, /^<xml><ToUserName>/, 'a plain follow gets a plain reply');
});

t.test(
  'while the EncodingAESKey changes: pushes in the previous key and in the new one are stored, each answered in its own key; a third is refused',
  async (t) => {
    const NEW_KEY = 'NewEncodingAesKeyAfterTheChange000000000000';
    const gw = await startGateway(redis.url, { WECHAT_ENCODING_AES_KEY: NEW_KEY, WECHAT_ENCODING_AES_KEY_PREVIOUS: AES_KEY, WELCOME_TEXT: 'Welcome' });
    t.teardown(() => gw.close());
    const inKey = (encodingAesKey: string) => new WechatPlatform({ gatewayUrl: gw.url, token: TOKEN, appId: APP_ID, encodingAesKey, mode: 'safe' });
    for (const [name, key] of [
      ['the previous key (the console not changed yet)', AES_KEY],
      ['the new key', NEW_KEY],
    ] as const) {
      const wx = inKey(key);
      const text = await wx.push(wx.text('oModes00000000000000000000010', `in ${name}`));
      t.equal(text.status, 200, `a text in ${name} is stored`);
      const follow = await wx.push(wx.follow('oModes00000000000000000000011'));
      t.match(parseFlatXml(follow.reply!), { MsgType: 'text', Content: 'Welcome' }, `the welcome to a follow in ${name} opens with ${name}`);
    }
    const stranger = inKey('AnotherEncodingAesKeyNobodyConfigured000000');
    const refused = await stranger.push(stranger.text('oModes00000000000000000000012', 'in a key nobody set'));
    t.equal(refused.status, 400, 'a push in neither key is refused');
    const contents = (await gw.gateway.queue.getJobs(['wait'])).flatMap((j) => (j.data.message.kind === 'text' ? [j.data.message.content] : [])).sort();
    t.same(contents, ['in the new key', 'in the previous key (the console not changed yet)']);
  },
);

t.test('an empty WELCOME_TEXT answers a follow with success', async (t) => {
  const gw = await startGateway(redis.url, { WELCOME_TEXT: '' });
  t.teardown(() => gw.close());
  const wx = gw.platform('safe');
  const res = await wx.push(wx.follow('oModes00000000000000000000004'));
  t.equal(res.body, 'success');
  t.equal(await gw.jobCount(), 1);
});

t.test('without an EncodingAESKey: compatible mode still works, safe mode is refused and stores nothing', async (t) => {
  const gw = await startGateway(redis.url, { WECHAT_ENCODING_AES_KEY: '' });
  t.teardown(() => gw.close());
  const compatible = await gw.platform('compatible').push(gw.platform().text('oModes00000000000000000000005', 'c'));
  t.equal(compatible.status, 200);
  const safe = await gw.platform('safe').push(gw.platform().text('oModes00000000000000000000005', 's'));
  t.equal(safe.status, 500);
  t.not(safe.body, 'success');
  t.equal(await gw.jobCount(), 1);
});

t.test(
  'WECHAT_REQUIRE_ENCRYPTION: a push that is not encrypted, or whose msg_signature does not cover its body, is refused with 401 and stored nowhere',
  async (t) => {
    const gw = await startGateway(redis.url, { WECHAT_REQUIRE_ENCRYPTION: '1' });
    t.teardown(() => gw.close());
    const openid = 'oModes00000000000000000000006';
    const safe = gw.platform('safe');
    const compatible = gw.platform('compatible');
    const plain = gw.platform('plain');
    t.equal((await safe.push(safe.text(openid, 'safe'))).status, 200, 'safe mode is taken');
    t.equal((await compatible.push(compatible.text(openid, 'compatible'))).status, 200, 'compatible mode is taken');
    const refused = await plain.push(plain.text(openid, 'plain'));
    t.equal(refused.status, 401, 'a plain push is refused');
    t.match(refused.body, /only encrypted pushes/);
    // One signed URL (from an access log, say) with a body of the holder's choosing.
    const signed = safe.sign(safe.text(openid, 'the signed one'));
    const swapped = await plain.post({ path: signed.path, body: plain.sign(plain.text(openid, 'injected')).body });
    t.equal(swapped.status, 401, 'a body swapped under a signed safe-mode URL is refused');
    const stripped = await plain.post({ path: signed.path.replace(/&encrypt_type=aes|&msg_signature=[0-9a-f]+/g, ''), body: signed.body });
    t.equal(stripped.status, 401, 'so is one with encrypt_type and msg_signature taken off');
    // Compatible mode carries plaintext beside Encrypt: what is stored is what Encrypt says.
    const c = compatible.sign(compatible.text(openid, 'what Encrypt says'));
    t.equal(
      (
        await compatible.post({
          path: c.path,
          body: c.body.replace(/<Content><!\[CDATA\[what Encrypt says\]\]><\/Content>/, '<Content><![CDATA[forged beside it]]></Content>'),
        })
      ).status,
      200,
    );
    const contents = (await gw.gateway.queue.getJobs(['wait'])).map((j) => (j.data.message.kind === 'text' ? j.data.message.content : '')).sort();
    t.same(contents, ['compatible', 'safe', 'what Encrypt says'], 'only the encrypted pushes, as encrypted');
  },
);

t.test('a plainly signed address carries one push: WeChat’s retry of it is taken, another body under it is refused with 401 and stored nowhere', async (t) => {
  const gw = await startGateway(redis.url);
  t.teardown(() => gw.close());
  const plain = gw.platform('plain');
  const openid = 'oModes00000000000000000000008';
  // The address of a real push, as an ingress's access log keeps it.
  const signed = plain.sign(plain.text(openid, 'the real one'));
  t.equal((await plain.post(signed)).status, 200);
  t.equal((await plain.post(signed)).status, 200, 'WeChat’s retry of the same push');
  // Bound for as long as any gateway takes the timestamp: its own 5 minutes, and another's whose
  // clock is up to a minute and a half behind (as the push's dedupe allows for).
  const query = new URL(signed.path, gw.url).searchParams;
  const ts = Number(query.get('timestamp'));
  const client = new Redis(redis.url);
  t.teardown(() => client.disconnect());
  const ttl = await client.ttl(stateKeys(keyPrefix(gw.config.queuePrefix, false)).pushAddress(String(ts), query.get('nonce')!));
  t.ok(ttl >= ts + 300 + 90 - Math.ceil(Date.now() / 1000), `the binding outlives another gateway's window (${ttl} s)`);
  const injected = await plain.post({ path: signed.path, body: plain.sign(plain.text('oModes00000000000000000000009', 'injected')).body });
  t.equal(injected.status, 401, 'another body under it');
  t.match(injected.body, /already used/);
  // The console's verification address, signed as a push's is, carries no push either.
  const verification = plain.sign(plain.text(openid, 'unused'));
  const verified = await request(`${gw.url}${verification.path}&echostr=7351`);
  t.equal(await verified.body.text(), '7351');
  t.equal(
    (await plain.post({ path: verification.path, body: plain.sign(plain.text(openid, 'after the echo')).body })).status,
    401,
    'a push under a verification’s address',
  );
  const contents = (await gw.gateway.queue.getJobs(['wait'])).map((j) => (j.data.message.kind === 'text' ? j.data.message.content : ''));
  t.same(contents, ['the real one'], 'the real push, once');
  const safe = gw.platform('safe');
  const encrypted = safe.sign(safe.text(openid, 'encrypted'));
  t.equal((await safe.post(encrypted)).status, 200);
  t.equal((await safe.post(encrypted)).status, 200, 'an encrypted push is bound by its msg_signature, its retry taken as well');
});
