import { createServer } from 'node:http';
import { CALLBACK_OK, ImClient, UserSigCache, callbackError, parseAfterSendMsg, parseStateChange, textElem, verifyCallbackQuery } from '@wxim/im';
import { ImSimulator, SANDBOX } from '@wxim/sandbox';
import t, { type Test } from 'tap';

const TOKEN = 'callback-token-for-tests';
const CUSTOMER = 'o6_bmjrPTlm6_2sgVt7hMZOPfL2M';

interface Received {
  query: Record<string, string>;
  body: unknown;
}

/**
 * The relay's side of IM's callbacks, as small as it gets: checks the query with the relay's own
 * verifyCallbackQuery, records what came, and answers OK, or late when told to.
 */
async function startReceiver(token: string) {
  const received: Received[] = [];
  const receiver = { url: '', received, answerNextAfterMs: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const query = Object.fromEntries(new URL(req.url ?? '/', 'http://receiver').searchParams);
      received.push({ query, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
      const check = verifyCallbackQuery(query, { sdkAppId: SANDBOX.imSdkAppId, token, nowMs: Date.now() });
      const [status, answer] = check.ok ? [200, CALLBACK_OK] : [check.status, callbackError(1, check.reason)];
      const delay = receiver.answerNextAfterMs;
      receiver.answerNextAfterMs = 0;
      setTimeout(() => {
        if (!req.socket.destroyed) res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      }, delay);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/im/callback`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { receiver, close };
}

async function setup(t: Test, token = TOKEN) {
  const { receiver, close } = await startReceiver(token);
  const sim = new ImSimulator({
    sdkAppId: SANDBOX.imSdkAppId,
    secretKey: SANDBOX.imSecretKey,
    admin: SANDBOX.imAdmin,
    agents: ['agent1'],
    callback: { url: receiver.url, token: TOKEN },
  });
  const simUrl = await sim.listen();
  const client = new ImClient({
    sdkAppId: SANDBOX.imSdkAppId,
    admin: SANDBOX.imAdmin,
    userSig: new UserSigCache(SANDBOX.imSdkAppId, SANDBOX.imSecretKey, SANDBOX.imAdmin),
    apiBase: simUrl,
  });
  await client.importAccount(CUSTOMER);
  t.teardown(async () => {
    await client.close();
    await sim.close();
    await close();
  });
  return { receiver, sim, simUrl, client };
}

async function history(client: ImClient, a: string, b: string): Promise<{ MsgKey: string; From_Account: string }[]> {
  const now = Math.floor(Date.now() / 1000);
  const res = await client.call<{ MsgList: { MsgKey: string; From_Account: string }[] }>('openim/admin_getroammsg', {
    Operator_Account: a,
    Peer_Account: b,
    MaxCnt: 100,
    MinTime: now - 60,
    MaxTime: now + 1,
  });
  return res?.MsgList ?? [];
}

t.test("an agent's message is stored in IM's history and reported to the callback URL, signed", async (t) => {
  const { receiver, sim, client } = await setup(t);
  const before = Date.now();
  const sent = await sim.agentSend('agent1', CUSTOMER, [textElem('Hello, how can I help?')]);
  t.equal(sent.delivered, true, 'the receiver answered OK within 2 s');
  t.equal(receiver.received.length, 1);
  const { query, body } = receiver.received[0]!;
  const check = verifyCallbackQuery(query, { sdkAppId: SANDBOX.imSdkAppId, token: TOKEN, nowMs: Date.now() });
  t.match(check, { ok: true, command: 'C2C.CallbackAfterSendMsg', optPlatform: 'Web', clientIp: '127.0.0.1' });
  t.equal(query['contenttype'], 'json');
  const msg = parseAfterSendMsg(body);
  t.match(msg, {
    fromAccount: 'agent1',
    toAccount: CUSTOMER,
    msgKey: sent.msgKey,
    msgTime: sent.msgTime,
    msgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'Hello, how can I help?' } }],
    sendMsgResult: 0,
    errorInfo: 'send msg succeed',
    onlineOnlyFlag: 0,
  });
  t.notOk('cloudCustomData' in msg, 'CloudCustomData "" is read as none');
  t.ok(msg.eventTime! >= before && msg.eventTime! <= Date.now(), 'EventTime in milliseconds');
  t.match(body, { UnreadMsgNum: 1 });
  t.match(sim.callbacks, [{ command: 'C2C.CallbackAfterSendMsg', outcome: 'ok', delivered: true, status: 200, answer: CALLBACK_OK }]);

  const stored = await history(client, CUSTOMER, 'agent1');
  t.same(
    stored.map((m) => [m.From_Account, m.MsgKey]),
    [['agent1', sent.msgKey]],
    'admin_getroammsg returns it, from either side',
  );
  t.equal(await client.hasC2CMessage('agent1', CUSTOMER, msg.msgSeq, msg.msgRandom, sent.msgTime - 1, sent.msgTime + 1), true);
});

t.test('an agent-send over HTTP does the same', async (t) => {
  const { receiver, simUrl } = await setup(t);
  const res = await fetch(`${simUrl}/sim/agent-send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ From_Account: 'agent1', To_Account: CUSTOMER, MsgBody: [textElem('over HTTP')], CloudCustomData: '{"k":1}' }),
  });
  const sent = (await res.json()) as { msgKey: string; delivered: boolean };
  t.equal(sent.delivered, true);
  t.match(parseAfterSendMsg(receiver.received[0]!.body), { msgKey: sent.msgKey, cloudCustomData: '{"k":1}' });
  const refused = await fetch(`${simUrl}/sim/agent-send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ From_Account: 'agent1', To_Account: 'nobody', MsgBody: [textElem('x')] }),
  });
  t.equal(refused.status, 400, 'to an account IM does not know');
  t.equal(receiver.received.length, 1, 'and no callback for it');
});

t.test('a REST send calls back unless its ForbidCallbackControl forbids the after-send callback', async (t) => {
  const { receiver, sim, client } = await setup(t);
  await client.sendC2C({ from: CUSTOMER, to: 'agent1', msgSeq: 1, msgRandom: 11, body: [textElem('forbidden')] });
  await client.call('openim/sendmsg', {
    From_Account: CUSTOMER,
    To_Account: 'agent1',
    MsgSeq: 2,
    MsgRandom: 22,
    MsgBody: [textElem('only before forbidden')],
    ForbidCallbackControl: ['ForbidBeforeSendMsgCallback'],
  });
  const answer = await client.call<{ MsgKey: string }>('openim/sendmsg', {
    From_Account: CUSTOMER,
    To_Account: 'agent1',
    MsgSeq: 3,
    MsgRandom: 33,
    MsgBody: [textElem('allowed')],
  });
  await sim.callbacksSettled();
  t.equal(sim.messages.length, 3, 'all three stored');
  t.same(
    receiver.received.map((r) => parseAfterSendMsg(r.body).msgBody[0]?.MsgContent['Text']),
    ['only before forbidden', 'allowed'],
    'the one forbidding the after-send callback is not reported',
  );
  const last = receiver.received[1]!;
  t.match(last.query, { OptPlatform: 'RESTAPI', ClientIP: '127.0.0.1', CallbackCommand: 'C2C.CallbackAfterSendMsg' });
  t.equal(parseAfterSendMsg(last.body).msgKey, answer?.MsgKey);
});

t.test('a callback answered after 2.5 s is recorded as not delivered and is never retried', async (t) => {
  const { receiver, sim, client } = await setup(t);
  receiver.answerNextAfterMs = 2500;
  const started = Date.now();
  const sent = await sim.agentSend('agent1', CUSTOMER, [textElem('slow receiver')]);
  const waited = Date.now() - started;
  t.equal(sent.delivered, false);
  t.ok(waited >= 1900 && waited < 2400, `IM gave up after its 2 s (${waited} ms)`);
  t.match(sim.callbacks, [{ outcome: 'timeout', delivered: false, ms: 2000 }]);
  t.notOk('status' in sim.callbacks[0]!, 'no status: no answer');
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(receiver.received.length, 1, 'one request, long after the late answer: no retry');
  t.equal(sim.callbacks.length, 1);
  t.same(
    (await history(client, 'agent1', CUSTOMER)).map((m) => m.MsgKey),
    [sent.msgKey],
    'the message itself is stored',
  );
});

t.test('a lost callback is never sent, while its message is stored', async (t) => {
  const { receiver, sim, simUrl, client } = await setup(t);
  const res = await fetch(`${simUrl}/sim/callback-lost`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ times: 1 }),
  });
  t.equal(res.status, 200);
  const lost = await sim.agentSend('agent1', CUSTOMER, [textElem('lost on the way')]);
  t.equal(lost.delivered, false);
  t.equal(receiver.received.length, 0, 'nothing reached the receiver');
  t.match(sim.callbacks, [{ outcome: 'lost', delivered: false, ms: 0 }]);
  t.ok(
    (await history(client, CUSTOMER, 'agent1')).some((m) => m.MsgKey === lost.msgKey),
    'in the history, where missed-callback recovery can find it',
  );
  const next = await sim.agentSend('agent1', CUSTOMER, [textElem('the next one')]);
  t.equal(next.delivered, true, 'only the next callback was lost');
  t.equal(parseAfterSendMsg(receiver.received[0]!.body).msgKey, next.msgKey);
});

t.test('a receiver that refuses the signature is recorded as refused', async (t) => {
  const { receiver, sim } = await setup(t, 'the-relay-expects-another-token');
  const sent = await sim.agentSend('agent1', CUSTOMER, [textElem('signed with the wrong token')]);
  t.equal(sent.delivered, false);
  t.equal(receiver.received.length, 1);
  t.match(sim.callbacks, [{ outcome: 'refused', delivered: false, status: 401, answer: { ActionStatus: 'FAIL', ErrorInfo: 'Sign does not match' } }]);
});

t.test('without a callback URL nothing is called and nothing recorded', async (t) => {
  const sim = new ImSimulator({ sdkAppId: SANDBOX.imSdkAppId, secretKey: SANDBOX.imSecretKey, agents: ['agent1', 'agent2'] });
  t.teardown(() => sim.close());
  const sent = await sim.agentSend('agent1', 'agent2', [textElem('hi')]);
  t.equal(sent.delivered, false);
  t.equal(sim.messages.length, 1);
  t.same(sim.callbacks, []);
  t.throws(() => sim.setCallback('not a url'), 'a URL that cannot be parsed is refused at once');
});

t.test('a callback URL nobody listens on is recorded as an error, and the message is stored', async (t) => {
  const { receiver, close } = await startReceiver(TOKEN);
  await close();
  const sim = new ImSimulator({ sdkAppId: SANDBOX.imSdkAppId, secretKey: SANDBOX.imSecretKey, agents: ['agent1', 'agent2'], callback: { url: receiver.url } });
  t.teardown(() => sim.close());
  const sent = await sim.agentSend('agent1', 'agent2', [textElem('into the void')]);
  t.equal(sent.delivered, false);
  t.match(sim.callbacks, [{ outcome: 'error', delivered: false, error: 'ECONNREFUSED' }]);
  t.equal(sim.messages.length, 1);
});

t.test("an agent's login and logout are reported as State.StateChange", async (t) => {
  const { receiver, sim } = await setup(t);
  t.equal(await sim.agentLogin('agent1'), true);
  t.equal(await sim.agentLogout('agent1'), true);
  t.equal(await sim.agentDisconnect('agent1', 'TimeOut'), true);
  t.same(
    receiver.received.map((r) => r.query['CallbackCommand']),
    ['State.StateChange', 'State.StateChange', 'State.StateChange'],
  );
  t.match(receiver.received[0]!.body, { CallbackCommand: 'State.StateChange', Info: { Action: 'Login', To_Account: 'agent1', Reason: 'Register' } });
  const changes = receiver.received.map((r) => parseStateChange(r.body));
  t.same(
    changes.map((c) => [c.account, c.action, c.reason]),
    [
      ['agent1', 'Login', 'Register'],
      ['agent1', 'Logout', 'Unregister'],
      ['agent1', 'Disconnect', 'TimeOut'],
    ],
  );
  t.ok(changes.every((c) => typeof c.eventTime === 'number'));
  await t.rejects(sim.agentLogin('nobody'), /not an imported account/);
});

t.test("an agent's conversation list holds each peer once, latest first, page by page, up to IM's cap", async (t) => {
  const { sim, client } = await setup(t);
  const customers = Array.from({ length: 120 }, (_, i) => `customer_${String(i).padStart(3, '0')}`);
  for (const c of customers) await client.importAccount(c);
  for (const c of customers) await sim.agentSend('agent1', c, [textElem(`hello ${c}`)]);
  await sim.agentSend('agent1', customers[0]!, [textElem('again')]); // the first is now the latest
  const pages = [];
  for await (const page of client.recentContacts('agent1')) pages.push(page);
  const peers = pages.flat().map((c) => c.peer);
  t.equal(pages.length, 2, 'paged, 50 at a time');
  t.equal(peers.length, 100, "IM's default edition keeps an account's latest 100");
  t.equal(new Set(peers).size, 100, 'each once');
  t.equal(peers[0], customers[0], 'latest first');
  t.notOk(peers.includes(customers[1]!), 'the oldest drop out');
  t.ok(
    pages.flat().every((c) => Math.abs(c.msgTime - Date.now() / 1000) < 10),
    'with the time of their latest message, in seconds',
  );
  const forCustomer = [];
  for await (const page of client.recentContacts(customers[0]!)) forCustomer.push(...page);
  t.same(
    forCustomer.map((c) => c.peer),
    ['agent1'],
    "and the customer's list has the agent",
  );
});
