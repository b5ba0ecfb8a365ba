import {
  type ReceivedMessage,
  ImSimulator,
  SandboxPage,
  type SandboxPageAccount,
  WechatApiSimulator,
  WechatPlatform,
  agentConversation,
  fakeOpenId,
  stripesPng,
} from '@wxim/sandbox';
import { SANDBOX_ACCOUNTS } from '@wxim/config';
import t from 'tap';
import { inflateSync } from 'node:zlib';

/** The page with its simulators, for sandbox mode's two accounts, and no relay behind it: a gateway that is not there. */
function page() {
  const [im, second] = SANDBOX_ACCOUNTS.map((a) => ({
    id: a.id,
    agents: a.imAgents,
    im: new ImSimulator({ sdkAppId: a.imSdkAppId, secretKey: a.imSecretKey, agents: a.imAgents }),
    wechatApi: new WechatApiSimulator({ appId: a.appId, secret: a.appSecret }),
    wechat: new WechatPlatform({ gatewayUrl: 'http://127.0.0.1:9', token: a.token, appId: a.appId }),
  })) as [SandboxPageAccount, SandboxPageAccount];
  const sandbox = new SandboxPage({
    accounts: [im, second],
    selfUrl: 'http://127.0.0.1:3003',
    dashboardPort: 3002,
    hosts: ['127.0.0.1', 'localhost', '::1', 'sandbox'],
  });
  return { im: im.im, wechatApi: im.wechatApi, second, app: sandbox.app };
}

t.test('bad input is answered 4xx with what is expected, and changes nothing', async (t) => {
  const { im, wechatApi, app } = page();
  const openid = fakeOpenId();
  const cases: [string, string, object | undefined, number, RegExp][] = [
    ['POST', '/api/customer/text', { openid: 'not-an-openid', text: 'hi' }, 400, /openid/],
    ['POST', '/api/customer/text', { openid, text: '   ' }, 400, /1 to 2048 bytes/],
    ['POST', '/api/customer/text', { openid, text: 'x'.repeat(2049) }, 400, /1 to 2048 bytes/],
    ['POST', '/api/customer/dance', { openid }, 404, /one of follow, unfollow, text, photo, location/],
    ['POST', '/api/agent/reply', { agent: 'agent9', openid, text: 'hi' }, 400, /agent: one of agent1, agent2/],
    ['POST', '/api/agent/reply', { agent: 'agent1', openid, text: '' }, 400, /text/],
    ['POST', '/api/agent/reply', { agent: 'agent1', openid, text: 'hello' }, 409, /has not written yet/],
    ['PUT', '/api/window', { openid, closed: 'yes' }, 400, /closed \(true or false\)/],
    ['PUT', '/api/im-failures', { percent: 33 }, 400, /one of 0, 25, 50, 100/],
    ['PUT', '/api/agent/login', { agent: 'agent9', loggedIn: true }, 400, /agent: one of agent1, agent2/],
    ['PUT', '/api/agent/login', { agent: 'agent1', loggedIn: 'yes' }, 400, /loggedIn: true or false/],
    ['GET', '/api/view?openid=x&agent=agent1', undefined, 400, /openid/],
    ['GET', `/api/view?openid=${openid}&agent=root`, undefined, 400, /agent/],
    ['GET', '/media/..%2Fsecret', undefined, 404, /no such photo/],
    ['GET', '/api/wechat-media/none', undefined, 404, /no such media/],
  ];
  for (const [method, url, payload, status, error] of cases) {
    const res = await app.inject({ method: method as 'GET', url, ...(payload === undefined ? {} : { payload }) });
    t.equal(res.statusCode, status, `${method} ${url} ${JSON.stringify(payload ?? '')}`);
    t.match(res.json<{ error: string }>().error, error);
  }
  const view = (await app.inject({ url: `/api/view?openid=${openid}&agent=agent1` })).json<{
    customer: unknown[];
    window: { open: boolean };
    imFailPercent: number;
  }>();
  t.same(view.customer, [], 'nothing recorded for the customer');
  t.same(view.window, { open: false });
  t.equal(view.imFailPercent, 0, "IM's faults untouched");
  t.equal(im.messages.length, 0, 'nothing sent in IM');
  t.equal(wechatApi.windowOf(openid), undefined, 'no window opened');
});

t.test("without the relay's Redis the view says why the desk is not shown; a login im-callback did not take is answered 502", async (t) => {
  const { im, app } = page();
  const view = (await app.inject({ url: `/api/view?openid=${fakeOpenId()}&agent=agent1` })).json<{ desk: { unavailable?: string } }>();
  t.match(view.desk.unavailable, /not connected to the relay's Redis/);
  // This IM simulator has no callback URL: the state change reaches no im-callback.
  const res = await app.inject({ method: 'PUT', url: '/api/agent/login', payload: { agent: 'agent1', loggedIn: false } });
  t.equal(res.statusCode, 502);
  t.match(res.json<{ error: string }>().error, /im-callback did not take agent1's logout/);
  t.same(im.callbacks, [], 'nothing was delivered');
});

t.test('a gateway that cannot be reached is shown on the message, not lost silently', async (t) => {
  const { app } = page();
  const openid = fakeOpenId();
  const res = await app.inject({ method: 'POST', url: '/api/customer/text', payload: { openid, text: 'anyone there?' } });
  t.same(res.json(), { status: 0 });
  const view = (await app.inject({ url: `/api/view?openid=${openid}&agent=agent1` })).json<{ customer: { text: string; note: string }[] }>();
  t.equal(view.customer[0]?.text, 'anyone there?');
  t.match(view.customer[0]?.note, /^the gateway could not be reached/);
});

t.test('the toggles reach the simulators: the window closes, IM fails the share chosen', async (t) => {
  const { im, wechatApi, app } = page();
  const openid = fakeOpenId();
  wechatApi.customerActed(openid, 'message');
  t.equal((await app.inject({ method: 'PUT', url: '/api/window', payload: { openid, closed: true } })).statusCode, 200);
  t.ok(wechatApi.windowOf(openid)!.deadline <= Date.now(), 'closed now');
  await app.inject({ method: 'PUT', url: '/api/window', payload: { openid, closed: false } });
  t.ok(wechatApi.windowOf(openid)!.deadline > Date.now() + 47 * 3_600_000, 'opened again as a customer message does');
  wechatApi.customerUnfollowed(openid);
  const view = (await app.inject({ url: `/api/view?openid=${openid}&agent=agent1` })).json<{ window: object }>();
  t.same(view.window, { open: false, unfollowed: true }, 'after an unfollow the window shows closed, and why');
  await app.inject({ method: 'PUT', url: '/api/im-failures', payload: { percent: 25 } });
  t.same(im.faults, { rate: 0.25, kinds: ['busy', 'http500'] });
});

t.test("every route is about the account it names (default's without one): its customers, its IM app's agents, its switches", async (t) => {
  const { im, wechatApi, second, app } = page();
  const setup = (await app.inject({ url: '/api/setup' })).json<{ accounts: { id: string; agents: string[]; dashboardPath: string }[] }>();
  t.same(
    setup.accounts.map((a) => [a.id, a.agents, a.dashboardPath]),
    [
      ['default', ['agent1', 'agent2'], '/'],
      ['second', ['agent3', 'agent4'], '/accounts/second/'],
    ],
    'both accounts, each with its own agents and board',
  );
  const openid = fakeOpenId();
  const unknown = await app.inject({ url: `/api/view?account=third&openid=${openid}&agent=agent1` });
  t.equal(unknown.statusCode, 404);
  t.match(unknown.json<{ error: string }>().error, /account: one of default, second/);
  const wrongAgent = await app.inject({ url: `/api/view?account=second&openid=${openid}&agent=agent1` });
  t.equal(wrongAgent.statusCode, 400, "default's agent is no agent of second's IM app");
  t.match(wrongAgent.json<{ error: string }>().error, /agent: one of agent3, agent4/);
  t.equal((await app.inject({ url: `/api/view?account=second&openid=${openid}&agent=agent3` })).statusCode, 200);

  await app.inject({ method: 'PUT', url: '/api/im-failures?account=second', payload: { percent: 50 } });
  t.equal(second.im.faults.rate, 0.5, "second's IM app fails");
  t.equal(im.faults.rate, 0, "default's does not");
  second.wechatApi.customerActed(openid, 'message');
  await app.inject({ method: 'PUT', url: '/api/window?account=second', payload: { openid, closed: true } });
  t.ok(second.wechatApi.windowOf(openid)!.deadline <= Date.now(), "the window closed in second's Official Account");
  t.equal(wechatApi.windowOf(openid), undefined, "default's knows nothing of it");

  await app.inject({ method: 'POST', url: '/api/customer/text?account=second', payload: { openid, text: 'for the second' } });
  const shown = (account: string, agent: string) =>
    app.inject({ url: `/api/view?account=${account}&openid=${openid}&agent=${agent}` }).then((r) => r.json<{ customer: { text: string }[] }>().customer);
  t.same(
    (await shown('second', 'agent3')).map((i) => i.text),
    ['for the second'],
    "the customer's act is second's",
  );
  t.same(await shown('default', 'agent1'), [], 'and not shown as a customer of default');
});

t.test('the page and its script are served; photos are real PNGs', async (t) => {
  const { app } = page();
  const html = await app.inject({ url: '/' });
  t.equal(html.statusCode, 200);
  t.match(html.headers['content-type'], /^text\/html/);
  t.match(html.body, /aria-label="Customer message"/);
  t.match(html.body, /aria-label="Agent reply"/);
  t.match((await app.inject({ url: '/app.js' })).headers['content-type'], /^text\/javascript/);
  const photo = await app.inject({ url: '/media/agent-abc123.png' });
  t.equal(photo.headers['content-type'], 'image/png');
  const png = photo.rawPayload;
  t.same([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'the PNG signature');
  t.equal(png.readUInt32BE(16), 96, 'width');
  const idat = png.indexOf('IDAT');
  t.equal(inflateSync(png.subarray(idat + 4, idat + 4 + png.readUInt32BE(idat - 4))).length, 96 * (1 + 96 * 3), 'the pixels inflate to 96 rows');
  t.same(stripesPng('agent-abc123.png'), png, 'the same name draws the same photo');
});

t.test("the agent's view: the customer's messages, the agent's replies and the relay's notices about them", async (t) => {
  const openid = fakeOpenId();
  const msg = (from: string, to: string, text: string, data: object | undefined, msgKey: string, receivedAt: number): ReceivedMessage => ({
    from,
    to,
    msgSeq: 1,
    msgRandom: 1,
    body: [{ MsgType: 'TIMTextElem', MsgContent: { Text: text } }],
    ...(data === undefined ? {} : { cloudCustomData: JSON.stringify(data) }),
    receivedAt,
    msgKey,
  });
  const messages = [
    msg('cust1', 'agent2', 'hello', { source: 'wechat', openid, msgId: '1' }, 'k1', 1),
    msg('other', 'agent2', 'not this customer', { source: 'wechat', openid: fakeOpenId(), msgId: '2' }, 'k2', 2),
    msg('agent2', 'cust1', 'hi!', undefined, 'k3', 3),
    msg('cust1', 'agent2', '⚠ Relay notice — your reply “hi!” was not delivered', { source: 'relay-notice', replyTo: 'k3' }, 'k4', 4),
  ];
  const view = agentConversation(messages, 'agent2', openid);
  t.equal(view.customerAccount, 'cust1');
  t.equal(view.servedBy, 'agent2');
  t.same(
    view.items.map((i) => [i.from, i.text]),
    [
      ['customer', 'hello'],
      ['agent', 'hi!'],
      ['relay', '⚠ Relay notice — your reply “hi!” was not delivered'],
    ],
  );
  t.same(agentConversation(messages, 'agent1', openid).items, [], 'another agent sees none of it');
  t.same(agentConversation(messages, 'agent2', fakeOpenId()), { items: [] }, 'a customer who has not written has no conversation');
});

t.test('an agent reply IM refuses (the customer unfollowed and their account is gone) is answered 409 with why', async (t) => {
  const { im, app } = page();
  const openid = fakeOpenId();
  im.accounts.set('cust9', {});
  await im.agentSend('cust9', 'agent1', [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'hi' } }], {
    cloudCustomData: JSON.stringify({ source: 'wechat', openid, msgId: '7' }),
  });
  im.accounts.delete('cust9');
  const res = await app.inject({ method: 'POST', url: '/api/agent/reply', payload: { agent: 'agent1', openid, text: 'still there?' } });
  t.equal(res.statusCode, 409);
  t.match(res.json<{ error: string }>().error, /To_Account does not exist/);
  t.equal(im.messages.length, 1, 'nothing more stored in IM');
});

t.test('the page answers only to the names it was given: a rebinding name is refused 421 before anything happens', async (t) => {
  const { im, app } = page();
  for (const host of ['localhost:3003', '127.0.0.1:3003', '[::1]:3003', 'sandbox:3003', 'SANDBOX']) {
    t.equal((await app.inject({ url: '/healthz', headers: { host } })).statusCode, 200, host);
  }
  for (const host of ['evil.example:3003', '127.0.0.1.nip.io', 'localhost.evil.example']) {
    const res = await app.inject({ method: 'PUT', url: '/api/im-failures', headers: { host }, payload: { percent: 100 } });
    t.equal(res.statusCode, 421, JSON.stringify(host));
    t.match(res.json<{ error: string }>().error, /answers only to 127\.0\.0\.1, localhost/);
  }
  t.equal(im.faults.rate, 0, 'IM faults untouched');
});
