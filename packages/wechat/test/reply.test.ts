import { MessageCipher, buildEncryptedReply, buildTextReply, msgSignature, parseFlatXml } from '@wxim/wechat';
import t from 'tap';

const cipher = new MessageCipher('abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', 'wx0123456789abcdef');

t.test('a text reply round-trips, names as given, CreateTime in seconds', async (t) => {
  const content = 'Welcome 欢迎 🎉 <&> ]]> done';
  const xml = buildTextReply({ toUserName: 'openid_1', fromUserName: 'gh_1', content, createTime: 1732867200 });
  t.same(parseFlatXml(xml), { ToUserName: 'openid_1', FromUserName: 'gh_1', CreateTime: '1732867200', MsgType: 'text', Content: content });
});

t.test('an encrypted reply carries Encrypt, MsgSignature, TimeStamp in seconds and Nonce', async (t) => {
  const inner = buildTextReply({ toUserName: 'openid_1', fromUserName: 'gh_1', content: 'hi', createTime: 1732867200 });
  const env = parseFlatXml(buildEncryptedReply(cipher, 'tokentoken', inner, '1732867200', '12345'));
  t.same(Object.keys(env).sort(), ['Encrypt', 'MsgSignature', 'Nonce', 'TimeStamp']);
  t.equal(env['TimeStamp'], '1732867200');
  t.equal(env['MsgSignature'], msgSignature('tokentoken', '1732867200', '12345', env['Encrypt']!));
  t.equal(cipher.decrypt(env['Encrypt']!), inner);
});
