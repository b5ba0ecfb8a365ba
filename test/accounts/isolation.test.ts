import { get as httpGet } from 'node:http';
import { WechatPlatform, customerMediaBytes, fakeOpenId } from '@wxim/sandbox';
import { textElem } from '@wxim/im';
import { QUEUES } from '@wxim/queue';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import t from 'tap';
import { request } from 'undici';
import { accountCustomerWrites, eventually, startAccountsRelay, startTestRedis } from '@wxim/testkit';

// Two Official Accounts on one relay (ACCOUNTS_FILE), each with its own IM app and WeChat API.
const redis = await startTestRedis();
// Media on: the agent's client reaches the gateway at MEDIA_PUBLIC_URL through an ingress; here the
// test is the ingress, sending each link's path to the gateway.
const PUBLIC_URL = 'https://relay.example.test';
const relay = await startAccountsRelay(redis.url, ['brand-a', 'brand-b'], {
  env: { MEDIA_PUBLIC_URL: PUBLIC_URL, MEDIA_URL_SECRET: 'accounts-media-test-secret-0123456789abcdef' },
});
const client = new Redis(redis.url);
t.teardown(async () => {
  client.disconnect();
  await relay.close();
  await redis.close();
});
const [a, b] = [relay.account('brand-a'), relay.account('brand-b')];

/** GET `path` as written: a client's URL parser would resolve the dots and backslashes first. */
function rawStatus(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpGet({ host: '127.0.0.1', port: relay.ports.gateway, path }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
}

const jobsIn = async (account: string) => {
  const queue = new Queue(QUEUES.wechatInbound, { connection: client, prefix: `${relay.prefix}/${account}` });
  const counts = await queue.getJobCounts();
  await queue.close();
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
};

t.test("a push signed for one account is refused on another's path, and changes nothing there", async (t) => {
  const openid = fakeOpenId();
  const before = await jobsIn('brand-b');
  const onB = new WechatPlatform({ ...a.wechat.options, pushPath: '/wechat/brand-b' });
  const refused = await onB.push(onB.text(openid, 'signed for brand-a'));
  t.equal(refused.status, 401, "brand-b's gateway does not take brand-a's signature");
  t.equal(await jobsIn('brand-b'), before, 'nothing stored for brand-b');
  const nobody = await request(`${relay.gatewayUrl}/wechat/brand-z?signature=x&timestamp=1&nonce=1`, { method: 'POST', body: '<xml/>' });
  t.equal(nobody.statusCode, 404, 'an account not in the file: 404');
  await nobody.body.dump();
  const noDefault = await request(`${relay.gatewayUrl}/wechat?signature=x&timestamp=1&nonce=1`, { method: 'POST', body: '<xml/>' });
  t.equal(noDefault.statusCode, 404, 'no `default` account configured: /wechat is nobody’s');
  await noDefault.body.dump();
  // A path a proxy in front would read differently (here it would resolve to brand-a's /metrics).
  for (const path of [
    '/media/x\\..\\..\\accounts\\brand-a\\metrics',
    '/media/x/..%2f..%2faccounts/brand-a/metrics',
    '/wechat/../accounts/brand-a/metrics',
    '//wechat/brand-a',
  ]) {
    t.equal(await rawStatus(path), 400, `${path}: 400`);
  }
  // The same push on its own path goes through, to its own IM app only.
  await accountCustomerWrites(a, openid, 'signed for brand-a');
  t.notOk(
    b.im.messages.some((m) => m.cloudCustomData?.includes(openid)),
    "nothing reached brand-b's IM app",
  );
});

t.test("a reply from one app's agent never reaches another account's customer", async (t) => {
  const [openA, openB] = [fakeOpenId(), fakeOpenId()];
  const custA = await accountCustomerWrites(a, openA, 'hello from a customer of brand-a');
  const custB = await accountCustomerWrites(b, openB, 'hello from a customer of brand-b');
  t.notOk(
    a.im.messages.some((m) => m.cloudCustomData?.includes(openB)),
    "brand-b's customer is not in brand-a's IM app",
  );
  // brand-b's agent answers its customer: through brand-b's Official Account only.
  await b.im.agentSend(custB.agent, custB.userId, [textElem('answer from brand-b')]);
  // brand-b's IM app knows no customer of brand-a: IM itself refuses the send, nothing is called back.
  await t.rejects(b.im.agentSend(custB.agent, custA.userId, [textElem('crossed over')]));
  await a.im.agentSend(custA.agent, custA.userId, [textElem('answer from brand-a')]);
  await eventually('both answers are delivered', () => b.wechatApi.sentTo(openB).length === 1 && a.wechatApi.sentTo(openA).length === 1);
  t.same(
    b.wechatApi.sentTo(openB).map((m) => m.payload['content']),
    ['answer from brand-b'],
  );
  t.same(
    a.wechatApi.sentTo(openA).map((m) => m.payload['content']),
    ['answer from brand-a'],
  );
  t.same(a.wechatApi.sentTo(openB), [], "brand-a's Official Account never sent to brand-b's customer");
  t.same(b.wechatApi.sentTo(openA), [], "brand-b's Official Account never sent to brand-a's customer");
});

t.test("an account's media links go through its own path, and only it serves them", async (t) => {
  const openid = fakeOpenId();
  const before = b.im.messages.length;
  t.equal((await b.wechat.push(b.wechat.video(openid, 'shortvideo'))).status, 200);
  await eventually("the video reaches brand-b's agent", () => b.im.messages.length > before);
  const video = b.im.messages[before]!.body.find((e) => e.MsgType === 'TIMVideoFileElem')!.MsgContent;
  const thumbUrl = String(video['ThumbUrl']);
  t.match(thumbUrl, new RegExp(`^${PUBLIC_URL}/media/brand-b/[^/]+$`), 'under /media/brand-b/');
  const token = thumbUrl.split('/').at(-1)!;
  const fetchPath = async (path: string) => {
    const res = await request(`${relay.gatewayUrl}${path}`);
    return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()) };
  };
  const thumb = await fetchPath(`/media/brand-b/${token}`);
  t.equal(thumb.status, 200);
  t.same(thumb.body, customerMediaBytes('thumb'), 'the thumbnail, byte for byte');
  t.equal((await fetchPath(`/media/brand-a/${token}`)).status, 404, "brand-a's gateway has no such media");
  t.equal((await fetchPath(`/media/${token}`)).status, 404, 'nor has any `default` account');
});

t.test("every key is one account's, and no customer's key is under another account", async (t) => {
  const openA = fakeOpenId();
  const openB = fakeOpenId();
  await accountCustomerWrites(a, openA, 'keys a');
  await accountCustomerWrites(b, openB, 'keys b');
  const keys = await client.keys(`${relay.prefix}*`);
  t.ok(keys.length > 10, `${keys.length} keys`);
  const stray = keys.filter((k) => !k.startsWith(`${relay.prefix}/brand-a:`) && !k.startsWith(`${relay.prefix}/brand-b:`));
  t.same(stray, [], 'none outside the two accounts');
  t.ok(
    keys.some((k) => k.startsWith(`${relay.prefix}/brand-a:`) && k.includes(openA)),
    "brand-a's customer has keys under brand-a",
  );
  t.same(
    keys.filter((k) => k.includes(openA) && !k.startsWith(`${relay.prefix}/brand-a:`)),
    [],
    "brand-a's customer has none elsewhere",
  );
  t.same(
    keys.filter((k) => k.includes(openB) && !k.startsWith(`${relay.prefix}/brand-b:`)),
    [],
    "brand-b's customer has none elsewhere",
  );
});

t.test('each service answers for every account: readiness, and metrics with an account label', async (t) => {
  for (const port of Object.values(relay.ports)) {
    const ready = await request(`http://127.0.0.1:${port}/readyz`);
    t.equal(ready.statusCode, 200, `port ${port} ready`);
    await ready.body.dump();
  }
  const metrics = await (await request(`http://127.0.0.1:${relay.ports.gateway}/metrics`)).body.text();
  t.match(metrics, /^wxim_gateway_requests_total\{account="brand-a",[^}]*\} [1-9]/m, "brand-a's pushes");
  t.match(metrics, /^wxim_gateway_requests_total\{account="brand-b",[^}]*\} [1-9]/m, "brand-b's pushes");
  t.equal(metrics.match(/^# TYPE wxim_gateway_requests_total /gm)?.length, 1, 'each metric once');
  t.match(metrics, /^process_cpu_seconds_total \d/m, "the process's own metrics without a label");
  // The front's own answers above: three paths for no account of the file (two pushes, a media link), four malformed paths.
  t.match(metrics, /^wxim_front_requests_total\{service="wechat-gateway",outcome="unknown_account"\} 3$/m, 'the 404s, counted by the front');
  t.match(metrics, /^wxim_front_requests_total\{service="wechat-gateway",outcome="malformed_path"\} 4$/m, 'the 400s');
  t.match(metrics, /^wxim_front_requests_total\{service="wechat-gateway",outcome="routed"\} [1-9]/m, 'and what it handed on');
});
