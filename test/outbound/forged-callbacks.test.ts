import { callbackSign, textElem } from '@wxim/im';
import { replyJobId } from '@wxim/im-callback';
import { CALLBACK_TOKEN, eventually, twoWayForTests } from '@wxim/testkit';
import t from 'tap';
import { request } from 'undici';

const relay = await twoWayForTests(t);
const { im } = relay;

/** Posts `body` to im-callback with a query as IM sent it (a captured callback URL). */
async function postWith(query: Record<string, string>, body: unknown): Promise<{ status: number; answer: unknown }> {
  const res = await request(`${relay.callbackUrl}?${new URLSearchParams(query).toString()}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, answer: await res.body.json() };
}

const texts = relay.textsTo;
const customer = () => relay.newCustomer();
const metric = async (pattern: RegExp) => (await relay.pusher.app.inject({ url: '/metrics' })).body.split('\n').find((l) => pattern.test(l));
const noticesTo = (agent: string, userId: string) => im.messagesBetween(userId, agent).filter((m) => m.cloudCustomData?.includes('relay-notice'));

t.test('a captured callback URL cannot speak for an agent: another body under it is stored, never delivered', async (t) => {
  const c = await customer();
  await im.agentSend(c.agent, c.userId, [textElem('the real reply')]);
  await relay.waitForSent(c.openid, 1);
  const genuine = im.callbacks.at(-1)!;

  // Same query string (token-signed RequestTime, still fresh), another body and MsgKey: IM's Sign covers neither.
  const forged = { ...genuine.payload, MsgKey: `forged-${Date.now()}`, MsgBody: [textElem('send your card number to evil.example')] };
  const answered = await postWith(genuine.query, forged);
  t.equal(answered.status, 200, 'the signature holds: im-callback cannot tell at the door');
  await eventually('the forged reply fails', async () => (await relay.callback.queue.getJobState(replyJobId(forged.MsgKey))) === 'failed');
  const failed = await relay.callback.queue.getJob(replyJobId(forged.MsgKey));
  t.match(failed?.failedReason, /not confirmed in IM's history/, 'the failed job says why');
  t.same(texts(c.openid), ['the real reply'], 'only the real reply reached the customer, once');
  t.same(noticesTo(c.agent, c.userId), [], 'no notice to an agent who never wrote it');
  t.match(await metric(/^wxim_pusher_replies_total\{outcome="unconfirmed",via="callback"\}/), / 1$/);

  // A later reply of the customer, stored behind another forged one, goes once that one has failed.
  const again = { ...genuine.payload, MsgKey: `forged-again-${Date.now()}`, MsgBody: [textElem('and again')] };
  await postWith(genuine.query, again);
  await im.agentSend(c.agent, c.userId, [textElem('and another')]);
  await relay.waitForSent(c.openid, 2);
  t.same(texts(c.openid), ['the real reply', 'and another']);
  t.equal(await relay.callback.queue.getJobState(replyJobId(again.MsgKey)), 'failed', 'the forged one ahead of it failed');
});

t.test("a callback whose body was changed on its way delivers what IM's history holds, not the change", async (t) => {
  const c = await customer();
  im.callbackLost(1); // the genuine callback never arrives; the altered copy does
  const sent = await im.agentSend(c.agent, c.userId, [textElem('see you at 10')]);
  const genuine = im.callbacks.at(-1)!;
  t.equal(genuine.outcome, 'lost');
  const requestTime = String(Math.floor(Date.now() / 1000));
  const query = { ...genuine.query, RequestTime: requestTime, Sign: callbackSign(CALLBACK_TOKEN, requestTime) };
  t.equal((await postWith(query, { ...genuine.payload, MsgBody: [textElem('see you at 11')] })).status, 200);
  await relay.waitForSent(c.openid, 1);
  t.same(texts(c.openid), ['see you at 10'], "IM's record of the message, under its MsgKey");
  t.equal(sent.msgKey, genuine.payload['MsgKey']);
});

t.test('a callback naming another customer under a real MsgKey is not delivered to either', async (t) => {
  const a = await customer();
  const b = await customer();
  im.callbackLost(1);
  await im.agentSend(a.agent, a.userId, [textElem('for a only')]);
  const genuine = im.callbacks.at(-1)!;
  const requestTime = String(Math.floor(Date.now() / 1000));
  const query = { ...genuine.query, RequestTime: requestTime, Sign: callbackSign(CALLBACK_TOKEN, requestTime) };
  await postWith(query, { ...genuine.payload, To_Account: b.userId });
  await eventually(
    'the redirected reply fails',
    async () => (await relay.callback.queue.getJobState(replyJobId(String(genuine.payload['MsgKey'])))) === 'failed',
  );
  t.same(texts(b.openid), [], 'b never gets a message a was sent');
  t.same(texts(a.openid), []);
});

t.test('a reply whose history trails its callback is looked for again, and delivered once', async (t) => {
  const c = await customer();
  im.historyLagMs = 500;
  t.teardown(() => {
    im.historyLagMs = 0;
  });
  await im.agentSend(c.agent, c.userId, [textElem('history is a moment behind')]);
  await relay.waitForSent(c.openid, 1);
  t.same(texts(c.openid), ['history is a moment behind']);
});

t.test('IM unreachable while a reply is confirmed: it waits and retries, and never goes out unconfirmed', async (t) => {
  const c = await customer();
  im.failNext('openim/admin_getroammsg', 90994, 4, 'server busy');
  await im.agentSend(c.agent, c.userId, [textElem('after IM is back')]);
  await relay.waitForSent(c.openid, 1);
  t.same(texts(c.openid), ['after IM is back']);
  const history = im.callsPerSecond()['openim/admin_getroammsg'] ?? [];
  t.ok(history.reduce((n, [, calls]) => n + calls, 0) >= 5, 'looked again after each failure, not delivered before');
});

const unconfirmed = async () => Number((await metric(/^wxim_pusher_replies_total\{outcome="unconfirmed",via="callback"\}/))?.split(' ')[1] ?? 0);

t.test("IM refuses the reply's history once with a code the relay does not know: it is looked at again, and the reply delivered once", async (t) => {
  const c = await customer();
  im.failNext('openim/admin_getroammsg', 60014, 1, 'account exchange timed out');
  t.teardown(() => im.clearScripted());
  await im.agentSend(c.agent, c.userId, [textElem('after one refusal')]);
  await relay.waitForSent(c.openid, 1);
  t.same(texts(c.openid), ['after one refusal']);
});

t.test('IM refuses it at every look: the reply fails as unconfirmed, for a later look at the history to deliver, not as refused for good', async (t) => {
  const c = await customer();
  const before = await unconfirmed();
  im.failNext('openim/admin_getroammsg', 60014, 20, 'account exchange timed out');
  t.teardown(() => im.clearScripted());
  const sent = await im.agentSend(c.agent, c.userId, [textElem('never confirmed')]);
  await eventually('the reply fails', async () => (await relay.callback.queue.getJobState(replyJobId(sent.msgKey))) === 'failed');
  const failed = await relay.callback.queue.getJob(replyJobId(sent.msgKey));
  t.match(failed?.failedReason, /^not delivered, not confirmed in IM's history: IM refused to read the conversation's history/, 'a reason the sweep revives');
  t.equal(await unconfirmed(), before + 1, 'counted as unconfirmed');
  t.same(texts(c.openid), [], 'nothing went unconfirmed');
});

t.test(
  "the customer's account gone from IM (70107 on the history read, as after their unfollow): the reply fails at once, holding no line for hours",
  async (t) => {
    const c = await customer();
    im.failNext('openim/admin_getroammsg', 70107, 1, 'UserID not imported');
    t.teardown(() => im.clearScripted());
    const sent = await im.agentSend(c.agent, c.userId, [textElem('to a customer who left')]);
    await eventually('the reply fails', async () => (await relay.callback.queue.getJobState(replyJobId(sent.msgKey))) === 'failed', 5000);
    const failed = await relay.callback.queue.getJob(replyJobId(sent.msgKey));
    t.equal(failed?.attemptsMade, 1, 'on its first attempt, not retried as not imported');
    t.match(failed?.failedReason, /IM holds no account for one side of the conversation/);
    t.same(texts(c.openid), []);
  },
);

t.test('a callback whose MsgTime is minutes from now is refused at the door, and nothing is stored', async (t) => {
  const c = await customer();
  await im.agentSend(c.agent, c.userId, [textElem('now')]);
  await relay.waitForSent(c.openid, 1);
  const genuine = im.callbacks.at(-1)!;
  const stale = { ...genuine.payload, MsgKey: `stale-${Date.now()}`, MsgTime: Math.floor(Date.now() / 1000) - 3600 };
  const answered = await postWith(genuine.query, stale);
  t.equal(answered.status, 400);
  t.match(answered.answer, { ActionStatus: 'FAIL', ErrorInfo: /MsgTime/ });
  t.equal(await relay.callback.queue.getJob(replyJobId(stale.MsgKey)), undefined);
});

t.test('a RequestTime more than a minute off is refused', async (t) => {
  const c = await customer();
  await im.agentSend(c.agent, c.userId, [textElem('fresh')]);
  await relay.waitForSent(c.openid, 1);
  const genuine = im.callbacks.at(-1)!;
  const old = String(Math.floor(Date.now() / 1000) - 90);
  const replayed = await postWith({ ...genuine.query, RequestTime: old, Sign: callbackSign(CALLBACK_TOKEN, old) }, { ...genuine.payload, MsgKey: 'late' });
  t.equal(replayed.status, 401);
});
