import { parseFlatXml } from '@wxim/wechat';
import t from 'tap';
import { startGateway } from '../../../test/helpers/gateway.js';
import { startTestRedis } from '../../../test/helpers/redis.js';

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
