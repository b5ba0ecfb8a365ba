import { WechatApiSimulator, fakeOpenId } from '@wxim/sandbox';
import { ratingQuestion } from '@wxim/wechat';
import t from 'tap';

type Json = Record<string, unknown>;

const sim = new WechatApiSimulator({ appId: 'wx0123456789abcdef', secret: 'sandbox-app-secret-00000000000000' });
const post = async (path: string, body: unknown): Promise<Json> => (await sim.app.inject({ method: 'POST', url: path, payload: body as Json })).json();
const token = async () =>
  String(
    (await post('/cgi-bin/stable_token', { grant_type: 'client_credential', appid: 'wx0123456789abcdef', secret: 'sandbox-app-secret-00000000000000' }))[
      'access_token'
    ],
  );
const send = async (message: unknown) => post(`/cgi-bin/message/custom/send?access_token=${await token()}`, message);
const code = (answer: Json) => answer['errcode'] ?? 0;

t.test('a menu message is delivered and recorded as sent, within the customer’s window', async (t) => {
  const openid = fakeOpenId();
  t.equal(code(await send(ratingQuestion(openid, 'How did we do?', '00000001'))), 45015, 'no window, no menu');
  sim.customerActed(openid, 'message');
  t.equal(code(await send(ratingQuestion(openid, 'How did we do?', '00000001'))), 0);
  const [sent] = sim.sentTo(openid);
  t.equal(sent?.msgtype, 'msgmenu');
  t.match(sent?.payload, { head_content: 'How did we do?', list: [{ id: '1000000011', content: '1' }], tail_content: '' });
});

t.test('a menu without options, an option without an id, or a head over 1024 bytes is refused', async (t) => {
  const openid = fakeOpenId();
  sim.customerActed(openid, 'message');
  const menu = (msgmenu: Json) => ({ touser: openid, msgtype: 'msgmenu', msgmenu });
  t.equal(code(await send(menu({ head_content: 'Rate us', list: [] }))), 40035);
  t.equal(code(await send(menu({ head_content: 'Rate us', list: [{ id: '', content: '1' }] }))), 40035);
  t.equal(code(await send(menu({ head_content: 'x'.repeat(1025), list: [{ id: '1', content: '1' }] }))), 45002);
  t.equal(sim.sentTo(openid).length, 0, 'nothing was delivered');
});
