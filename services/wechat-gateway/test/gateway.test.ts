import { Writable } from 'node:stream';
import { urlSignature } from '@wxim/wechat';
import { Redis } from 'ioredis';
import { request } from 'undici';
import t from 'tap';
import { AES_KEY, APP_SECRET, TOKEN, startGateway, startTestRedis } from '@wxim/testkit';

const redis = await startTestRedis();
t.teardown(() => redis.close());

let logs = '';
const logStream = new Writable({
  write(chunk: Buffer, _enc, done) {
    logs += chunk.toString();
    done();
  },
});
const gw = await startGateway(redis.url, { LOG_LEVEL: 'debug' }, { logStream });
t.teardown(() => gw.close());

async function post(path: string, body: string, headers: Record<string, string> = { 'content-type': 'text/xml' }) {
  const res = await request(`${gw.url}${path}`, { method: 'POST', body, headers });
  return { status: res.statusCode, body: await res.body.text() };
}

function signedQuery(timestamp = Math.floor(Date.now() / 1000)) {
  const ts = String(timestamp);
  return `signature=${urlSignature(TOKEN, ts, '42')}&timestamp=${ts}&nonce=42&openid=o1`;
}

t.test('URL verification echoes echostr verbatim, and only when signed', async (t) => {
  const echostr = '4567283947593827';
  const ok = await request(`${gw.url}/wechat?${signedQuery()}&echostr=${echostr}`);
  t.equal(ok.statusCode, 200);
  t.equal(await ok.body.text(), echostr);
  const forged = await request(`${gw.url}/wechat?signature=${'a'.repeat(40)}&timestamp=1&nonce=2&echostr=${echostr}`);
  t.equal(forged.statusCode, 401);
  t.notMatch(await forged.body.text(), echostr);
  const missing = await request(`${gw.url}/wechat?${signedQuery()}`);
  t.equal(missing.statusCode, 400);
  await missing.body.dump();
});

t.test('a signed push is enqueued exactly once, even when sent three times', async (t) => {
  const wx = gw.platform();
  const before = await gw.jobCount();
  const signed = wx.sign(wx.text('oCustomer0000000000000000001', 'hello'));
  for (let i = 0; i < 3; i++) {
    const res = await wx.post(signed);
    t.equal(res.status, 200);
    t.equal(res.body, 'success');
  }
  // And three more at once, as WeChat's retries can overlap a slow answer.
  const again = await Promise.all([1, 2, 3].map(() => wx.post(wx.sign(wx.text('oCustomer0000000000000000001', 'hello', '9001')))));
  t.same(
    again.map((r) => r.status),
    [200, 200, 200],
  );
  t.equal(await gw.jobCount(), before + 2);
  const jobs = await gw.gateway.queue.getJobs(['wait']);
  const job = jobs.find((j) => j.data.message.kind === 'text' && j.data.message.msgId === '9001');
  t.match(job?.data, { message: { kind: 'text', content: 'hello', fromUserName: 'oCustomer0000000000000000001', msgId: '9001' } });
  t.equal(job?.id, 'm-oCustomer0000000000000000001-9001');
});

t.test('the dedupe window outlives the job: a repeat after retention removed it adds nothing', async (t) => {
  const wx = gw.platform();
  const signed = wx.sign(wx.text('oCustomer0000000000000000002', 'once'));
  t.equal((await wx.post(signed)).status, 200);
  const [job] = (await gw.gateway.queue.getJobs(['wait'])).filter((j) => j.data.message.fromUserName === 'oCustomer0000000000000000002');
  // What count/age retention does: the job's keys go, the deduplication key stays (an explicit
  // removal from the dashboard also clears the key: an operator may want the push again).
  const client = new Redis(redis.url);
  t.teardown(() => client.quit());
  const base = `${gw.config.queuePrefix}:wechat-inbound`;
  await client.multi().lrem(`${base}:wait`, 0, job!.id!).del(`${base}:${job!.id}`).exec();
  t.equal(await gw.gateway.queue.getJob(job!.id!), undefined, 'the job is gone');
  const before = await gw.jobCount();
  t.equal((await wx.post(signed)).status, 200);
  t.equal(await gw.jobCount(), before);
});

t.test(
  'a replay inside the timestamp window is stored nowhere, even after retention removed the job: its dedupe key lives as long as the window',
  async (t) => {
    const wx = gw.platform('safe');
    const client = new Redis(redis.url);
    t.teardown(() => client.quit());
    const base = `${gw.config.queuePrefix}:wechat-inbound`;
    const now = Math.floor(Date.now() / 1000);
    // Signed by a clock 4 minutes ahead of ours (accepted: within 5 minutes), or on time.
    for (const [skew, openid] of [
      [240, 'oReplay000000000000000000001'],
      [0, 'oReplay000000000000000000002'],
    ] as const) {
      const signed = wx.sign(wx.text(openid, 'replayed later'), now + skew);
      t.equal((await wx.post(signed)).status, 200);
      const [job] = (await gw.gateway.queue.getJobs(['wait'])).filter((j) => j.data.message.fromUserName === openid);
      const ttl = await client.pttl(`${base}:de:${job!.id}`);
      const windowLeft = (now + skew + 300) * 1000 - Date.now();
      t.ok(ttl >= windowLeft, `signed ${skew} s ahead: the dedupe key lives ${Math.round(ttl / 1000)} s, the replay window ${Math.round(windowLeft / 1000)} s`);
      await client.multi().lrem(`${base}:wait`, 0, job!.id!).del(`${base}:${job!.id}`).exec(); // what retention does
      const before = await gw.jobCount();
      t.equal((await wx.post(signed)).status, 200, 'the replay is answered as the original was');
      t.equal(await gw.jobCount(), before, 'and stores nothing');
    }
  },
);

t.test('a follow gets the welcome text as a passive reply with the names swapped', async (t) => {
  const wx = gw.platform();
  const res = await wx.push(wx.follow('oFollower000000000000000001'));
  t.equal(res.status, 200);
  t.match(res.reply, /<ToUserName><!\[CDATA\[oFollower000000000000000001\]\]><\/ToUserName>/);
  t.match(res.reply, new RegExp(`<FromUserName><!\\[CDATA\\[${wx.accountId}\\]\\]></FromUserName>`));
  t.match(res.reply, /<MsgType><!\[CDATA\[text\]\]><\/MsgType>/);
  t.match(res.reply, /<CreateTime>\d{10}<\/CreateTime>/);
  t.match(res.reply, gw.config.welcomeText);
});

t.test('bad pushes get a 4xx and enqueue nothing, and the gateway keeps serving', async (t) => {
  const wx = gw.platform();
  const before = await gw.jobCount();
  const good = wx.sign(wx.text('oBad000000000000000000000001', 'x'));
  const q = good.path.split('?')[1]!;
  const cases: [string, string, string, number][] = [
    ['forged', good.path.replace(/signature=[0-9a-f]+/, `signature=${'0'.repeat(40)}`), good.body, 401],
    ['unsigned', '/wechat', good.body, 401],
    ['stale', `/wechat?${signedQuery(Math.floor(Date.now() / 1000) - 3600)}`, good.body, 401],
    ['oversized', good.path, `<xml><Content><![CDATA[${'x'.repeat(70 * 1024)}]]></Content></xml>`, 413],
    ['malformed', good.path, '<xml><ToUserName>a</ToUserName', 400],
    ['not a push', good.path, '<xml><ToUserName>a</ToUserName></xml>', 400],
    ['entity-laden', good.path, '<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Content>&e;</Content></xml>', 400],
    ['billion laughs', good.path, `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><xml><Content>&b;</Content></xml>`, 400],
    ['empty', good.path, '', 400],
    ['repeated signature', `${good.path}&signature=${'0'.repeat(40)}`, good.body, 400],
    ['repeated timestamp', `${good.path}&timestamp=1`, good.body, 400],
    ['character reference past Unicode', good.path, good.body.replace('<Content><![CDATA[x]]></Content>', '<Content>&#x110000;</Content>'), 400],
    ['huge character reference', good.path, good.body.replace('<Content><![CDATA[x]]></Content>', `<Content>&#${'9'.repeat(400)};</Content>`), 400],
    ['a FromUserName naming another key', good.path, good.body.replace('oBad000000000000000000000001', 'agent-replies:oVictim0000000000000000001'), 400],
  ];
  for (const [what, path, body, status] of cases) {
    t.not(body === good.body && path === good.path, true, `${what} differs from the good push`);
    const res = await post(path, body);
    t.equal(res.status, status, what);
    t.not(res.body, 'success', what);
  }
  const verification = await request(`${gw.url}/wechat?${signedQuery()}&echostr=1&echostr=2`);
  t.equal(verification.statusCode, 400, 'a URL verification with a repeated parameter');
  await verification.body.dump();
  t.equal((await post(`/wechat?${q}`, good.body, {})).status, 200, 'no content type is read as text too');
  t.equal(await gw.jobCount(), before + 1, 'only the good push was stored');
});

t.test('a push escaped by a re-serialising proxy, or giving a field twice, is stored, not refused (a refusal loses it)', async (t) => {
  const wx = gw.platform();
  const before = await gw.jobCount();
  const openid = 'oEscaped00000000000000000001';
  const good = wx.sign(wx.text(openid, 'x', '9101'));
  // An emoji as its two UTF-16 halves, a control character, and the content given again.
  const escaped = good.body.replace('<Content><![CDATA[x]]></Content>', '<Content>hi &#xD83D;&#xDE00;&#7;</Content><Content><![CDATA[second]]></Content>');
  t.not(escaped, good.body);
  const res = await post(good.path, escaped);
  t.equal(res.status, 200);
  t.equal(res.body, 'success');
  t.equal(await gw.jobCount(), before + 1, 'stored once');
  const jobs = await gw.gateway.queue.getJobs(['wait']);
  const job = jobs.find((j) => j.data.message.fromUserName === openid);
  t.match(job?.data.message, { kind: 'text', content: 'hi 😀\u0007' }, 'the first Content, its references decoded');
});

t.test('health, readiness and metrics', async (t) => {
  const health = await request(`${gw.url}/healthz`);
  t.equal(health.statusCode, 200);
  await health.body.dump();
  const ready = await request(`${gw.url}/readyz`);
  t.equal(ready.statusCode, 200);
  t.match(await ready.body.json(), { status: 'ready' });
  const metrics = await (await request(`${gw.url}/metrics`)).body.text();
  t.match(metrics, /wxim_gateway_requests_total\{method="POST",outcome="enqueued"\} \d+/);
  t.match(metrics, /wxim_gateway_requests_total\{method="POST",outcome="unauthorized"\} \d+/);
  t.match(metrics, /wxim_gateway_requests_total\{method="POST",outcome="too_large"\} 1/);
  t.match(metrics, /wxim_gateway_requests_total\{method="GET",outcome="verified"\} 1/);
  t.match(metrics, /wxim_gateway_ack_seconds_bucket\{le="0.025",outcome="enqueued"\} \d+/);
});

t.test('no secret reaches the logs, even at debug level', async (t) => {
  t.match(logs, /push refused/, 'the refusals above were logged');
  for (const secret of [TOKEN, AES_KEY, APP_SECRET]) t.notMatch(logs, secret);
  t.notMatch(logs, /signature=/, 'no signed query string');
});
