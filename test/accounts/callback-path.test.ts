import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { AFTER_SEND_MSG, callbackSign, textElem } from '@wxim/im';
import { QUEUES } from '@wxim/queue';
import { fakeOpenId } from '@wxim/sandbox';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import t from 'tap';
import { request } from 'undici';
import { accountCustomerWrites, eventually, startAccountsRelay, startTestRedis } from '@wxim/testkit';

// Two Official Accounts sharing one IM app. IM's callbacks normally come to /im/callback and are
// handed to both; /im/callback/<account> names an account, and so its app: both again. What the front answers
// itself (a callback for no account, a body too large, one it could not read) is counted, and a
// genuine callback no account saw is marked as a gap and looked for in IM's history.
// No periodic sweep: a reply reaches an account only through its callback or a gap's recovery.
const redis = await startTestRedis();
const relay = await startAccountsRelay(redis.url, ['one', 'two'], { sharedIm: true, env: { CALLBACK_SWEEP_MS: '0' } });
const client = new Redis(redis.url);
t.teardown(async () => {
  client.disconnect();
  await relay.close();
  await redis.close();
});
const [one, two] = [relay.account('one'), relay.account('two')];
const im = one.im;
const callbackUrl = `http://127.0.0.1:${relay.ports.callback}`;

/** A series of im-callback's /metrics (0 when absent). */
async function sample(series: string): Promise<number> {
  const text = await (await request(`${callbackUrl}/metrics`)).body.text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}
/** Every callback `account`'s im-callback answered, whatever its outcome. */
async function seenBy(account: string): Promise<number> {
  const text = await (await request(`${callbackUrl}/metrics`)).body.text();
  const lines = text.split('\n').filter((l) => l.startsWith(`wxim_callback_requests_total{account="${account}",`));
  return lines.reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}
const callbacks = (account: string, outcome: string, command = AFTER_SEND_MSG) =>
  sample(`wxim_callback_requests_total{account="${account}",command="${command}",outcome="${outcome}"}`);
const front = (outcome: string) => sample(`wxim_front_requests_total{service="im-callback",outcome="${outcome}"}`);

const repliesStored = async (account: string) => {
  const queue = new Queue(QUEUES.agentReplies, { connection: client, prefix: `${relay.prefix}/${account}` });
  const counts = await queue.getJobCounts();
  await queue.close();
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
};

/** The shared app's query string for `command`, signed now with its callback token, as IM appends it. */
function signedQuery(command: string): string {
  const requestTime = String(Math.floor(Date.now() / 1000));
  return new URLSearchParams({
    SdkAppid: String(one.sdkAppId),
    CallbackCommand: command,
    contenttype: 'json',
    ClientIP: '127.0.0.1',
    OptPlatform: 'Web',
    RequestTime: requestTime,
    Sign: callbackSign('cb-one', requestTime),
  }).toString();
}

const [openOne, openTwo] = [fakeOpenId(), fakeOpenId()];
const custOne = await accountCustomerWrites(one, openOne, 'hello, account one');
const custTwo = await accountCustomerWrites(two, openTwo, 'hello, account two');

t.test("a callback posted to /im/callback/<account> reaches every account of that account's app: each stores its own customers' replies", async (t) => {
  im.setCallback(`${callbackUrl}/im/callback/one`, 'cb-one');
  t.teardown(() => im.setCallback(`${callbackUrl}/im/callback`, 'cb-one'));
  const [storedOne, ignoredOne, seenByTwo, repliesOfTwo] = [
    await callbacks('one', 'stored'),
    await callbacks('one', 'ignored'),
    await seenBy('two'),
    await repliesStored('two'),
  ];
  const forOne = await im.agentSend(custOne.agent, custOne.userId, [textElem('for one, by its own path')]);
  t.ok(forOne.delivered, "account one's im-callback answered OK");
  await eventually('the reply reaches the customer of account one', () => one.wechatApi.sentTo(openOne).length === 1);
  t.equal(one.wechatApi.sentTo(openOne)[0]!.payload['content'], 'for one, by its own path', 'through its own Official Account');
  t.equal(await callbacks('one', 'stored'), storedOne + 1, 'stored by account one');

  // A reply to account two's customer, on account one's path (IM's one URL for the app): account two takes it.
  const forTwo = await im.agentSend(custTwo.agent, custTwo.userId, [textElem('for two, on the path of one')]);
  t.ok(forTwo.delivered, 'answered OK');
  t.equal(await callbacks('one', 'ignored'), ignoredOne + 1, 'account one saw it and left it');
  t.equal(await seenBy('two'), seenByTwo + 2, 'account two saw both callbacks');
  t.equal(await repliesStored('two'), repliesOfTwo + 1, 'stored for account two');
  await eventually("the reply reaches account two's customer", () => two.wechatApi.sentTo(openTwo).length === 1);
  t.equal(two.wechatApi.sentTo(openTwo)[0]!.payload['content'], 'for two, on the path of one', 'through its own Official Account');
});

t.test('a callback for an account not in the file is answered 404 by the front, and changes nothing', async (t) => {
  const before = {
    unknown: await front('unknown_account'),
    seen: (await seenBy('one')) + (await seenBy('two')),
    one: await repliesStored('one'),
    two: await repliesStored('two'),
  };
  im.setCallback(`${callbackUrl}/im/callback/three`, 'cb-one');
  t.teardown(() => im.setCallback(`${callbackUrl}/im/callback`, 'cb-one'));
  const sent = await im.agentSend(custOne.agent, custOne.userId, [textElem('for an account nobody configured')]);
  t.notOk(sent.delivered, 'not answered OK');
  t.equal(im.callbacks.at(-1)!.status, 404, '404');
  t.equal((await seenBy('one')) + (await seenBy('two')), before.seen, 'no account saw it');
  t.equal(await front('unknown_account'), before.unknown + 1, 'counted as the front’s own answer');
  t.equal(await repliesStored('one'), before.one, 'nothing stored for account one');
  t.equal(await repliesStored('two'), before.two, 'nor for account two');
  t.equal(one.wechatApi.sentTo(openOne).length, 1, "nothing more sent to account one's customer");
});

t.test("a fanned-out callback over im-callback's limit: 413 from the front, counted as each account's bad request", async (t) => {
  const before = {
    tooLarge: await front('too_large'),
    one: await callbacks('one', 'bad_request', 'unknown'),
    two: await callbacks('two', 'bad_request', 'unknown'),
  };
  const res = await request(`${callbackUrl}/im/callback?${signedQuery(AFTER_SEND_MSG)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ CallbackCommand: AFTER_SEND_MSG, padding: 'x'.repeat(70 * 1024) }),
  });
  t.equal(res.statusCode, 413, '413, read by IM');
  await res.body.dump();
  t.equal(await front('too_large'), before.tooLarge + 1, 'counted as the front’s own answer');
  t.equal(await callbacks('one', 'bad_request', 'unknown'), before.one + 1, 'as account one would have counted it on its own');
  t.equal(await callbacks('two', 'bad_request', 'unknown'), before.two + 1, 'and account two');
});

t.test('a chunked fanned-out callback that runs over the limit while read: 413 as well, not a reset connection', async (t) => {
  const before = { tooLarge: await front('too_large'), one: await callbacks('one', 'bad_request', 'unknown') };
  // No Content-Length: the front learns the size only by reading, 8 KB at a time.
  async function* chunked() {
    yield Buffer.from(`{"CallbackCommand":"${AFTER_SEND_MSG}","padding":"`);
    for (let i = 0; i < 10; i++) yield Buffer.from('x'.repeat(8 * 1024));
    yield Buffer.from('"}');
  }
  const res = await request(`${callbackUrl}/im/callback?${signedQuery(AFTER_SEND_MSG)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: Readable.from(chunked()),
  });
  t.equal(res.statusCode, 413, '413, read by IM');
  t.same(await res.body.json(), { error: 'body too large' });
  t.equal(await front('too_large'), before.tooLarge + 1, 'counted as the front’s own answer');
  t.equal(await callbacks('one', 'bad_request', 'unknown'), before.one + 1, 'and as the bad request of the account that never saw it');
});

t.test('a fanned-out callback the front could not read is counted, and looked for in IM’s history as a gap', async (t) => {
  // A reply to account two's customer whose callback went astray (to an account nobody configured)
  // is in IM's history: the gap's recovery finds it for account two.
  im.setCallback(`${callbackUrl}/im/callback/three`, 'cb-one');
  const astray = await im.agentSend(custTwo.agent, custTwo.userId, [textElem('for two, its callback astray')]);
  im.setCallback(`${callbackUrl}/im/callback`, 'cb-one');
  t.notOk(astray.delivered, 'its callback was not answered OK');
  const before = { failed: await front('failed'), one: await callbacks('one', 'unavailable'), two: await callbacks('two', 'unavailable') };
  await new Promise<void>((resolve, reject) => {
    const socket = connect(relay.ports.callback, '127.0.0.1', () => {
      socket.write(
        `POST /im/callback?${signedQuery(AFTER_SEND_MSG)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{"CallbackCommand":`,
      );
      // IM's connection breaks off mid-body.
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 100);
    });
    socket.on('error', reject);
  });
  await eventually('the front counts the callback it could not hand on', async () => (await front('failed')) === before.failed + 1);
  t.equal(await callbacks('one', 'unavailable'), before.one + 1, "in account one's unavailable callbacks (WximCallbackUnavailable)");
  t.equal(await callbacks('two', 'unavailable'), before.two + 1, "and account two's");
  await eventually("account two's recovery finds the reply whose callback went astray", () => two.wechatApi.sentTo(openTwo).length === 2, 30_000);
  t.same(
    two.wechatApi.sentTo(openTwo).map((m) => m.payload['content']),
    ['for two, on the path of one', 'for two, its callback astray'],
    "through account two's Official Account, each once",
  );
  t.ok((await sample('wxim_callback_recovered_total{account="two",via="gap"}')) >= 1, 'recovered via the gap');
  // Account one's recovery looks through the same minutes: the reply whose callback IM sent to
  // /im/callback/three (the second test) is found too, and nothing is sent twice.
  await eventually("account one's recovery finds the reply whose callback went astray", () => one.wechatApi.sentTo(openOne).length >= 2, 30_000);
  t.same(
    one.wechatApi.sentTo(openOne).map((m) => m.payload['content']),
    ['for one, by its own path', 'for an account nobody configured'],
    'each once',
  );
});
