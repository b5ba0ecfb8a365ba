import { WechatApiSimulator, fakeOpenId } from '@wxim/sandbox';
import { multipartFile } from '@wxim/wechat';
import t from 'tap';
import { parseFormData } from '../src/wechat-api-simulator-multipart.js';

const APP_ID = 'wx0123456789abcdef';
const SECRET = 'sandbox-app-secret-00000000000000';

type Json = Record<string, unknown>;

function simulator(options: Partial<ConstructorParameters<typeof WechatApiSimulator>[0]> = {}) {
  const sim = new WechatApiSimulator({ appId: APP_ID, secret: SECRET, ...options });
  const post = async (path: string, body: unknown): Promise<Json> => (await sim.app.inject({ method: 'POST', url: path, payload: body as Json })).json();
  const get = async (path: string): Promise<Json> => (await sim.app.inject({ method: 'GET', url: path })).json();
  const stable = async (force = false) =>
    post('/cgi-bin/stable_token', { grant_type: 'client_credential', appid: APP_ID, secret: SECRET, force_refresh: force });
  const cgi = async () => get(`/cgi-bin/token?grant_type=client_credential&appid=${APP_ID}&secret=${SECRET}`);
  const token = async () => String((await stable())['access_token']);
  const send = async (message: Json, accessToken?: string) => post(`/cgi-bin/message/custom/send?access_token=${accessToken ?? (await token())}`, message);
  const text = (touser: string, content = 'hi') => ({ touser, msgtype: 'text', text: { content } });
  return { sim, post, get, stable, cgi, token, send, text };
}

const code = (answer: Json) => answer['errcode'] ?? 0;

t.test('stable_token: the same token until it nears its end; a forced refresh voids it, at most every 30 s', async (t) => {
  const { stable, send, text, sim } = simulator();
  const openid = fakeOpenId();
  sim.customerActed(openid, 'message');
  const first = await stable();
  t.match(first, { access_token: String, expires_in: Number });
  t.ok(Number(first['expires_in']) > 7190);
  t.equal((await stable())['access_token'], first['access_token'], 'the same token');
  const forced = await stable(true);
  t.not(forced['access_token'], first['access_token'], 'a new one');
  t.equal(code(await send(text(openid), String(first['access_token']))), 40001, 'the old one is void at once');
  t.equal(code(await send(text(openid), String(forced['access_token']))), 0);
  t.equal((await stable(true))['access_token'], forced['access_token'], 'a second force within 30 s refreshes nothing');
  t.same(sim.stats.tokenFetches, { token: 0, stable: 2, forced: 2 });
});

t.test('stable_token renews within a short lifetime too, the old token staying valid to its end', async (t) => {
  const { stable, send, text, sim } = simulator({ tokenTtlSeconds: 2 });
  const openid = fakeOpenId();
  sim.customerActed(openid, 'message');
  const first = String((await stable())['access_token']);
  await new Promise((r) => setTimeout(r, 1100)); // into its second half
  const second = String((await stable())['access_token']);
  t.not(second, first);
  t.equal(code(await send(text(openid), first)), 0, 'the old one still works');
  await new Promise((r) => setTimeout(r, 1000));
  t.equal(code(await send(text(openid), first)), 42001, 'until it expires');
});

t.test('cgi-bin/token: every call issues a new token and voids the previous after the grace period', async (t) => {
  const { cgi, send, text, sim } = simulator({ tokenGraceMs: 300 });
  const openid = fakeOpenId();
  sim.customerActed(openid, 'message');
  const a = String((await cgi())['access_token']);
  const b = String((await cgi())['access_token']);
  t.not(a, b);
  t.equal(code(await send(text(openid), a)), 0, 'within the grace period');
  await new Promise((r) => setTimeout(r, 350));
  t.equal(code(await send(text(openid), a)), 40001, 'after it');
  t.equal(code(await send(text(openid), b)), 0);
  const instant = simulator({ tokenGraceMs: 0 });
  const c = String((await instant.cgi())['access_token']);
  await instant.cgi();
  t.equal(code(await instant.send(text(openid), c)), 40001, 'a grace of 0 voids it at once');
});

t.test('wrong credentials are refused as WeChat does', async (t) => {
  const { post, get } = simulator();
  t.equal(code(await post('/cgi-bin/stable_token', { grant_type: 'client_credential', appid: 'wx-other', secret: SECRET })), 40013);
  t.equal(code(await post('/cgi-bin/stable_token', { grant_type: 'client_credential', appid: APP_ID, secret: 'wrong' })), 40125);
  t.equal(code(await post('/cgi-bin/stable_token', { grant_type: 'client_credential', appid: APP_ID })), 41004);
  t.equal(code(await get(`/cgi-bin/token?grant_type=client_credential&secret=${SECRET}`)), 41002);
  t.equal(code(await post('/cgi-bin/message/custom/send?access_token=made-up', {})), 40001);
  t.equal(code(await post('/cgi-bin/message/custom/send', {})), 41001);
});

t.test('a message opens 48 hours for 5 sends; the sixth is 45047', async (t) => {
  const { sim, send, text } = simulator();
  const openid = fakeOpenId();
  t.equal(code(await send(text(openid))), 45015, 'nothing is open before the customer acts');
  sim.customerActed(openid, 'message');
  for (let i = 0; i < 5; i++) t.equal(code(await send(text(openid, `reply ${i}`))), 0);
  t.equal(code(await send(text(openid))), 45047);
  t.equal(sim.sentTo(openid).length, 5);
  sim.customerActed(openid, 'message');
  t.equal(code(await send(text(openid))), 0, 'the next message opens a new quota');
});

t.test('a follow, click or scan allows 3 sends within a minute', async (t) => {
  const { sim, send, text } = simulator();
  const openid = fakeOpenId();
  sim.customerActed(openid, 'event');
  const w = sim.windowOf(openid)!;
  t.ok(w.deadline - Date.now() <= 60_000 && w.deadline - Date.now() > 59_000);
  for (let i = 0; i < 3; i++) t.equal(code(await send(text(openid))), 0);
  t.equal(code(await send(text(openid))), 45047);
  const late = fakeOpenId();
  sim.customerActed(late, 'event', Date.now() - 61_000);
  t.equal(code(await send(text(late))), 45015, 'a minute later it is closed');
});

t.test('quotas do not add up: the sends left and the deadline are each the larger of the grant and what was left', async (t) => {
  const { sim, send, text } = simulator();
  const openid = fakeOpenId();
  const at = Date.now();
  sim.customerActed(openid, 'message', at);
  for (let i = 0; i < 4; i++) await send(text(openid));
  sim.customerActed(openid, 'event');
  t.same(sim.windowOf(openid), { deadline: at + 48 * 3_600_000, remaining: 3 }, 'a click after a message: 3 left, the 48 hours kept');
  sim.customerActed(openid, 'event');
  t.equal(sim.windowOf(openid)!.remaining, 3, 'a second click adds nothing');
  sim.customerActed(openid, 'message');
  t.equal(sim.windowOf(openid)!.remaining, 5);
  const other = fakeOpenId();
  sim.customerActed(other, 'message', at);
  sim.customerActed(other, 'event');
  t.same(sim.windowOf(other), { deadline: at + 48 * 3_600_000, remaining: 5 }, 'a click adds nothing to a fresh message window');
});

t.test('a customer who unfollowed gets 45015 (or 43004 when asked); following again reopens', async (t) => {
  const { sim, send, text } = simulator();
  const openid = fakeOpenId();
  sim.customerActed(openid, 'message');
  sim.customerUnfollowed(openid);
  t.equal(code(await send(text(openid))), 45015);
  sim.customerActed(openid, 'event');
  t.equal(code(await send(text(openid))), 0);
  const strict = simulator({ unfollowedCode: 43004 });
  strict.sim.customerUnfollowed(openid);
  t.equal(code(await strict.send(text(openid))), 43004);
});

t.test('content is checked before the quota: a too-long text is 45002 and costs nothing', async (t) => {
  const { sim, send, text } = simulator();
  const openid = fakeOpenId();
  sim.customerActed(openid, 'event');
  t.equal(code(await send(text(openid, '字'.repeat(683)))), 45002, '2049 bytes');
  t.equal(code(await send(text(openid, '字'.repeat(682) + 'ab'))), 0, '2048 bytes');
  t.equal(code(await send({ touser: openid, msgtype: 'image', image: { media_id: 'nope' } })), 40007);
  t.equal(code(await send({ touser: openid, msgtype: 'music', music: {} })), 40008);
  t.equal(code(await send(text('not an openid!'))), 40003);
  t.equal(sim.windowOf(openid)!.remaining, 2, 'only the good text used the quota');
});

t.test('media: uploads within the limits get a media_id that sends and downloads; others are refused', async (t) => {
  const { sim, token, send } = simulator();
  const accessToken = await token();
  const upload = async (type: string, bytes: Buffer, filename: string, contentType = 'application/octet-stream') => {
    const form = multipartFile('media', bytes, filename, contentType);
    return (
      await sim.app.inject({
        method: 'POST',
        url: `/cgi-bin/media/upload?access_token=${accessToken}&type=${type}`,
        headers: { 'content-type': form.contentType },
        payload: form.body,
      })
    ).json<Json>();
  };
  const voice = await upload('voice', Buffer.alloc(1000, 3), 'hello.AMR', 'audio/amr');
  t.match(voice, { type: 'voice', media_id: String, created_at: Number });
  const openid = fakeOpenId();
  sim.customerActed(openid, 'message');
  t.equal(code(await send({ touser: openid, msgtype: 'voice', voice: { media_id: voice['media_id'] } })), 0);
  t.equal(code(await send({ touser: openid, msgtype: 'image', image: { media_id: voice['media_id'] } })), 40007, 'a voice is not an image');
  const got = await sim.app.inject({ method: 'GET', url: `/cgi-bin/media/get?access_token=${accessToken}&media_id=${String(voice['media_id'])}` });
  t.equal(got.headers['content-type'], 'audio/amr');
  t.equal(got.rawPayload.length, 1000);
  t.equal(code(await upload('image', Buffer.alloc(10 * 1024 * 1024 + 1), 'big.jpg')), 40009);
  t.equal(code(await upload('thumb', Buffer.alloc(64 * 1024 + 1), 'thumb.jpg')), 40012);
  t.equal(code(await upload('video', Buffer.alloc(10), 'clip.mov')), 40005);
  t.equal(code(await upload('file', Buffer.alloc(10), 'a.txt')), 40004);
  t.equal(code(await upload('image', Buffer.alloc(0), 'empty.png')), 40006);
});

t.test('typing needs a message within 30 s, cannot repeat while shown, and a send ends it', async (t) => {
  const { sim, post, token, send, text } = simulator();
  const accessToken = await token();
  const typing = async (touser: string, command: string) => post(`/cgi-bin/message/custom/typing?access_token=${accessToken}`, { touser, command });
  const openid = fakeOpenId();
  sim.customerActed(openid, 'message');
  t.equal(code(await typing(openid, 'Typing')), 0);
  t.equal(code(await typing(openid, 'Typing')), 45081);
  await send(text(openid), accessToken);
  t.equal(code(await typing(openid, 'Typing')), 0, 'the send ended it');
  t.equal(code(await typing(openid, 'Dancing')), 45072);
  const quiet = fakeOpenId();
  sim.customerActed(quiet, 'message', Date.now() - 31_000);
  t.equal(code(await typing(quiet, 'Typing')), 45080);
});

t.test('invalidateTokens voids every token; faults and stats are as asked', async (t) => {
  const { sim, token, send, text, stable } = simulator();
  const openid = fakeOpenId();
  sim.customerActed(openid, 'message');
  const before = await token();
  sim.invalidateTokens();
  t.equal(code(await send(text(openid), before)), 40001);
  t.not(await token(), before, 'the next stable_token is a new one');
  sim.invalidateTokens({ stableStaysStale: true });
  const stale = await token();
  t.equal(code(await send(text(openid), stale)), 40001, 'stable_token hands out a void token until forced');
  t.not((await stable(true))['access_token'], stale);
  sim.failNext('message/custom/send', 45009, 2);
  t.equal(code(await send(text(openid))), 45009);
  t.equal(code(await send(text(openid))), 45009);
  sim.failNext('message/custom/send', 'slow');
  t.equal(code(await send(text(openid))), 0, 'slow, but done');
  t.equal(sim.stats.errors['45009'], 2);
  t.equal(sim.stats.faults.slow, 1);
  t.equal(sim.stats.sent, 1);
  t.ok(sim.stats.calls['message/custom/send']! >= 5);
});

t.test('a lost answer still delivers the message, over real HTTP', async (t) => {
  const { sim, token } = simulator();
  const url = await sim.listen();
  t.teardown(() => sim.close());
  const openid = fakeOpenId();
  const acted = await fetch(`${url}/sim/customer-acted`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ openid, kind: 'message' }),
  });
  t.equal(acted.status, 200);
  sim.failNext('message/custom/send', 'lost');
  const lost = fetch(`${url}/cgi-bin/message/custom/send?access_token=${await token()}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ touser: openid, msgtype: 'text', text: { content: 'never answered' } }),
  });
  await t.rejects(lost);
  const sent = (await (await fetch(`${url}/sim/sent`)).json()) as { openid: string }[];
  t.same(
    sent.map((m) => m.openid),
    [openid],
  );
  t.equal(((await (await fetch(`${url}/sim/stats`)).json()) as { faults: { lost: number } }).faults.lost, 1);
});

t.test('the form-data reader takes what multipartFile writes, quotes and all', async (t) => {
  const bytes = Buffer.from('\r\n--not-a-boundary\r\nbinary\x00data', 'latin1');
  const form = multipartFile('media', bytes, 'a "quoted"\nname.png', 'image/png');
  const parts = parseFormData(form.body, form.contentType);
  t.equal(parts?.length, 1);
  t.equal(parts![0]!.name, 'media');
  t.equal(parts![0]!.filename, 'a %22quoted%22%0Aname.png');
  t.equal(parts![0]!.contentType, 'image/png');
  t.ok(parts![0]!.data.equals(bytes));
  t.equal(parseFormData(Buffer.from('plain'), 'multipart/form-data; boundary=x'), undefined);
});
