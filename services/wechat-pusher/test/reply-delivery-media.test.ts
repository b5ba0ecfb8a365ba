import { createServer } from 'node:http';
import { imageElem } from '@wxim/im';
import type { ReplyElement } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { testRedisConnection } from '@wxim/testkit';
import { type CustomMessage, DailyQuotas, type WechatApi, WechatPermanentError, WechatRateLimitedError } from '@wxim/wechat';
import t from 'tap';
import { type DeliveryDeps, MEDIA_REUSE_MS, deliver } from '../src/reply-delivery.js';
import { sweptReply, unrecordedWindow } from './delivery-stand-ins.js';

// An agent's image reply: uploaded to WeChat as temporary media (kept 3 days), then sent by its
// media_id. WeChat's side is a stand-in that runs each call's beforeSend as the client does.
const { redis } = await testRedisConnection(t);
const keys = stateKeys('{media}');
const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(1024, 7)]);
// Files with an extension as image/png; files under /store/ without one, as IM's storage serves them.
// Under /flaky/<key>: as IM's storage having a bad moment, 503 for the next `flaky.get(key)` asks; under /gone/, 404.
const flaky = new Map<string, number>();
/** Every file asked for, by path. */
const fetched: string[] = [];
const server = createServer((req, res) => {
  fetched.push(req.url!);
  const failing = req.url!.startsWith('/flaky/') ? (flaky.get(req.url!) ?? 0) : 0;
  if (failing > 0 || req.url!.startsWith('/gone/')) {
    flaky.set(req.url!, failing - 1);
    res.writeHead(failing > 0 ? 503 : 404).end();
    return;
  }
  const type = req.url!.startsWith('/store/') ? 'application/octet-stream' : 'image/png';
  res.writeHead(200, { 'content-type': type, 'content-length': png.length });
  res.end(png);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
t.teardown(() => server.close());
const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
const window = unrecordedWindow;

const reply = (msgKey: string) => sweptReply(msgKey, [imageElem(`uuid-${msgKey}`, `http://${host}/${msgKey}.png`)] as ReplyElement[]);

/**
 * WeChat as the test scripts it: each upload answers the next of `uploads` (a media_id, or an error
 * to throw); `quotas`, what the client knows of WeChat's daily quotas.
 */
function wechatWith(uploads: (string | Error)[], quotas = new DailyQuotas()) {
  const calls: string[] = [];
  const sent: CustomMessage[] = [];
  const names: string[] = [];
  const wechat = {
    quotas,
    async uploadMedia(_type: string, _bytes: Buffer, name: string, _ct: string, options: { beforeSend: (api: string) => Promise<boolean> }) {
      if (!(await options.beforeSend('media/upload'))) return undefined;
      names.push(name);
      const next = uploads.shift()!;
      if (next instanceof Error) throw next;
      return next;
    },
    async sendCustom(message: CustomMessage, options: { beforeSend: (api: string) => Promise<boolean> }) {
      if (!(await options.beforeSend('message/custom/send'))) return false;
      sent.push(message);
      return true;
    },
  } as unknown as WechatApi;
  const deps: DeliveryDeps = {
    redis,
    wechat,
    window,
    progressKey: keys.replyProgress,
    turn: async (api) => (calls.push(api), Date.now()),
    allowedHosts: [host],
    mediaTimeoutMs: 2000,
  };
  return { deps, calls, sent, names };
}

t.test('an upload is used again only while WeChat still keeps it: an older one is uploaded again', async (t) => {
  const job = reply('k-old-upload');
  // An earlier attempt uploaded the image, then its send never left; the reply is retried by hand four days later.
  await redis.hset(keys.replyProgress(job.id), 'm0', 'media-4-days-old', 'm0t', String(Date.now() - 4 * 24 * 3600 * 1000));
  const { deps, sent } = wechatWith(['media-new']);
  t.same(await deliver(job, deps), { delivered: true, parts: 1 });
  t.same(sent, [{ touser: job.data.openid, msgtype: 'image', image: { media_id: 'media-new' } }], 'sent by the new upload');

  const fresh = reply('k-fresh-upload');
  await redis.hset(keys.replyProgress(fresh.id), 'm0', 'media-an-hour-old', 'm0t', String(Date.now() - 3600 * 1000));
  const again = wechatWith([]);
  t.same(await deliver(fresh, again.deps), { delivered: true, parts: 1 });
  t.same(again.sent[0], { touser: fresh.data.openid, msgtype: 'image', image: { media_id: 'media-an-hour-old' } }, 'a recent upload is used again');
  t.ok(MEDIA_REUSE_MS < 3 * 24 * 3600 * 1000, 'within the 3 days WeChat keeps it');
});

t.test('an upload takes its turn under the pace, which checks the job is still this worker’s', async (t) => {
  const { deps, calls } = wechatWith(['media-1']);
  await deliver(reply('k-paced'), deps);
  t.same(calls, ['media/upload', 'message/custom/send']);
});

t.test('uploads refused for this minute hold the reply back; only the daily quota sends the link instead', async (t) => {
  const minute = wechatWith([new WechatRateLimitedError('media/upload', 45011, 'api minute-quota reach limit')]);
  const held = await deliver(reply('k-minute'), minute.deps).catch((err: Error) => err);
  t.type(held, WechatRateLimitedError, 'thrown: the queue holds back a minute and the image goes then');
  t.same(minute.sent, [], 'no link sent in its place');

  const day = wechatWith([new WechatRateLimitedError('media/upload', 45009, 'api daily quota reach limit')]);
  const job = reply('k-day');
  t.same(await deliver(job, day.deps), { delivered: true, parts: 1 });
  t.same(
    day.sent,
    [{ touser: job.data.openid, msgtype: 'text', text: { content: `🖼 Image: http://${host}/k-day.png` } }],
    'the link, rather than a day’s wait',
  );

  // The access_token's fetch over its own quota: nothing said of uploads, so no link for good.
  const token = wechatWith([new WechatRateLimitedError('stable_token', 45009, 'api daily quota reach limit')]);
  const tokenWaits = await deliver(reply('k-token'), token.deps).catch((err: Error) => err);
  t.type(tokenWaits, WechatRateLimitedError, 'thrown: the reply waits (the queue’s policy: at most the look again)');
  t.same(token.sent, [], 'no link sent in its place');

  // The client's own word while one call asks WeChat whether the quota is back: nothing decided yet.
  const asking = wechatWith([new WechatRateLimitedError('media/upload', 45009, 'one call is asking WeChat again', 1000, 'probe')]);
  const waits = await deliver(reply('k-asking'), asking.deps).catch((err: Error) => err);
  t.type(waits, WechatRateLimitedError, 'thrown: the reply waits a second for that answer');
  t.same(asking.sent, [], 'no link sent for good in its place');
});

t.test('while the upload API is left alone over its daily quota, the file is not fetched for nothing', async (t) => {
  let now = Date.UTC(2026, 11, 5, 2, 0);
  const quotas = new DailyQuotas(
    300_000,
    () => now,
    () => 0,
  );
  quotas.usedUp('media/upload');
  const held = wechatWith([], quotas);
  const job = reply('k-held');
  t.same(await deliver(job, held.deps), { delivered: true, parts: 1 });
  t.same(held.sent, [{ touser: job.data.openid, msgtype: 'text', text: { content: `🖼 Image: http://${host}/k-held.png` } }], 'the link');
  t.same(held.names, [], 'no upload made');
  now += 300_000;
  const trying = quotas.check('media/upload'); // another reply's upload asks WeChat again
  t.ok(trying.trying);
  const waiting = wechatWith([], quotas);
  const waits = await deliver(reply('k-waiting'), waiting.deps).catch((err: Error) => err);
  t.equal((waits as WechatRateLimitedError).awaitsProbe, true, 'it waits for that answer');
  t.same(
    fetched.filter((path) => path.startsWith('/k-held') || path.startsWith('/k-waiting')),
    [],
    'neither file fetched from IM’s storage',
  );
  quotas.tried('media/upload', trying); // that call ended without an answer: the next one tries
  const next = wechatWith(['media-back'], quotas);
  t.same(await deliver(reply('k-next'), next.deps), { delivered: true, parts: 1 });
  t.same(next.names, ['k-next.png'], 'uploaded once the turn to try is free');
  t.ok(fetched.includes('/k-next.png'), 'its file fetched then');
});

t.test('a file WeChat refuses by its type or size: its link goes instead, and the reply goes on', async (t) => {
  const job = reply('k-webp');
  job.data.body = [job.data.body[0]!, { MsgType: 'TIMTextElem', MsgContent: { Text: 'and the text after it' } }];
  const { deps, sent } = wechatWith([new WechatPermanentError('media/upload', 40005, 'invalid file type')]);
  t.same(await deliver(job, deps), { delivered: true, parts: 2 });
  t.same(
    sent.map((m) => (m as { text: { content: string } }).text.content),
    [`🖼 Image: http://${host}/k-webp.png`, 'and the text after it'],
  );
});

t.test("a passing failure fetching the file (IM's storage answering 503) is tried again, from that part; after three attempts its link goes", async (t) => {
  const withText = (msgKey: string, path: string) => {
    const job = sweptReply(msgKey, [
      { MsgType: 'TIMTextElem', MsgContent: { Text: 'before' } },
      imageElem(`uuid-${msgKey}`, `http://${host}${path}`),
      { MsgType: 'TIMTextElem', MsgContent: { Text: 'after' } },
    ] as ReplyElement[]);
    return job;
  };
  const texts = (sent: CustomMessage[]) => sent.map((m) => (m.msgtype === 'text' ? m.text.content : m.msgtype));

  flaky.set('/flaky/once.png', 1);
  const once = withText('k-flaky-once', '/flaky/once.png');
  const first = wechatWith(['media-once']);
  await t.rejects(deliver(once, first.deps), { name: 'MediaUnavailable', retryClass: 'media', message: /answered HTTP 503/ }, 'tried again');
  t.same(texts(first.sent), ['before'], 'the part before it went; nothing after it');
  t.same(await deliver(once, first.deps), { delivered: true, parts: 3 }, 'the next attempt delivers the rest');
  t.same(texts(first.sent), ['before', 'image', 'after'], 'each part once, in order');

  flaky.set('/flaky/long.png', 100);
  const long = withText('k-flaky-long', '/flaky/long.png');
  const second = wechatWith([]);
  for (let i = 0; i < 2; i++) await t.rejects(deliver(long, second.deps), { name: 'MediaUnavailable' });
  t.same(await deliver(long, second.deps), { delivered: true, parts: 3 }, 'the third failure sends the link instead');
  t.same(texts(second.sent), ['before', `🖼 Image: http://${host}/flaky/long.png`, 'after']);

  const gone = withText('k-gone', '/gone/x.png');
  const third = wechatWith([]);
  t.match(
    await deliver(gone, third.deps),
    { delivered: false, part: 1, why: { kind: 'media', reason: /answered HTTP 404/ } },
    'a file that is not there: not tried again',
  );
});

t.test("a file IM's storage serves without an extension is uploaded under the one IM's message gave", async (t) => {
  const job = reply('k-store');
  const url = `http://${host}/store/0a1b2c3d`;
  const info = (type: number) => ({ Type: type, Size: 0, Width: 0, Height: 0, URL: url });
  job.data.body = [{ MsgType: 'TIMImageElem', MsgContent: { UUID: 'u', ImageFormat: 1, ImageInfoArray: [info(1), info(2), info(3)] } }] as never;
  const { deps, names, sent } = wechatWith(['media-jpg']);
  t.same(await deliver(job, deps), { delivered: true, parts: 1 });
  t.same(names, ['0a1b2c3d.jpg'], 'JPG, as its ImageFormat says: WeChat tells a file by its extension');
  t.equal(sent.length, 1);
});
