import { APP_ID, APP_SECRET, eventually, startTestRedis, testPrefix } from '@wxim/testkit';
import { WechatApiSimulator, customerMediaBytes } from '@wxim/sandbox';
import { MediaStore, mediaEntryId, signMediaToken, stateKeys } from '@wxim/state';
import { type AddressInfo, connect } from 'node:net';
import { createServer } from 'node:http';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import t from 'tap';
import { request } from 'undici';
import { type MediaRouteOptions, mediaRoutes } from '../src/media-routes.js';

// The gateway's /media/ route over a real Redis, streaming a customer's video from the WeChat
// simulator's download link, which sends it slowly here (3 KB in 256-byte pieces, 100 ms apart)
// so that a player can leave in the middle.
const SECRET = 'media-streaming-test-secret-0123456789abcdef';

const redisServer = await startTestRedis();
t.teardown(() => redisServer.close());
const redis = new Redis(redisServer.url);
t.teardown(() => redis.disconnect());
const store = new MediaStore(redis, stateKeys(testPrefix()));

const wechat = new WechatApiSimulator({ appId: APP_ID, secret: APP_SECRET });
const wechatUrl = await wechat.listen();
t.teardown(() => wechat.close());
wechat.videoPaceMs = 100;

async function gateway(options: Partial<MediaRouteOptions> = {}): Promise<string> {
  const app = Fastify({ logger: false });
  await app.register(mediaRoutes, { store, secret: SECRET, ...options });
  t.teardown(() => app.close());
  return app.listen({ host: '127.0.0.1', port: 0 });
}

/** A video entry as the im-worker stores it, and its signed path. */
async function storedVideo(name: string): Promise<string> {
  const id = mediaEntryId('video', name);
  const expiresAt = Math.floor(Date.now() / 1000) + 3600;
  await store.put(id, { contentType: 'video/mp4', url: `${wechatUrl}/sim/video/simvideo-${name}` }, expiresAt * 1000);
  return `/media/${signMediaToken(SECRET, id, expiresAt)}`;
}

const url = await gateway();

t.test('a whole video streams through, byte for byte', async (t) => {
  const res = await request(`${url}${await storedVideo('whole')}`);
  t.equal(res.statusCode, 200);
  t.same(Buffer.from(await res.body.arrayBuffer()), customerMediaBytes('video'));
  await eventually("the simulator's download is closed", () => wechat.stats.videoDownloads.open === 0, 2000);
});

t.test("a player that leaves mid-video closes the gateway's download from WeChat at once", async (t) => {
  const path = await storedVideo('left');
  const before = wechat.stats.videoDownloads.started;
  const res = await request(`${url}${path}`);
  t.equal(res.statusCode, 200);
  for await (const piece of res.body) {
    t.ok((piece as Buffer).length < customerMediaBytes('video').length, 'a first piece, not the whole video');
    break; // leaving the loop destroys the body: the player is gone
  }
  t.equal(wechat.stats.videoDownloads.started, before + 1);
  // The rest would take over a second to send; the download at WeChat ends well before.
  const left = Date.now();
  await eventually("the simulator's download is closed", () => wechat.stats.videoDownloads.open === 0, 600, 10);
  t.ok(Date.now() - left < 600, `closed ${Date.now() - left} ms after the player left`);
});

t.test('HEAD answers without asking WeChat', async (t) => {
  const path = await storedVideo('head');
  const before = wechat.stats.videoDownloads.started;
  const res = await request(`${url}${path}`, { method: 'HEAD' });
  await res.body.dump();
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'video/mp4');
  // A GET right after does ask WeChat: the count below would have seen a HEAD's download too.
  const get = await request(`${url}${path}`);
  await get.body.dump();
  t.equal(wechat.stats.videoDownloads.started, before + 1, 'only the GET downloaded');
});

t.test('past the cap on videos streamed at once, a player gets 503; a place frees when one ends', async (t) => {
  const cuts: string[] = [];
  const capped = await gateway({ maxVideoStreams: 1, videoCut: (why) => cuts.push(why) });
  const path = await storedVideo('cap');
  const first = await request(`${capped}${path}`);
  t.equal(first.statusCode, 200);
  const second = await request(`${capped}${path}`);
  await second.body.dump();
  t.equal(second.statusCode, 503);
  t.equal(second.headers['retry-after'], '5');
  t.same(cuts, ['busy'], 'told why');
  await first.body.dump();
  await eventually('the first stream has ended', () => wechat.stats.videoDownloads.open === 0, 3000);
  const third = await request(`${capped}${path}`);
  t.equal(third.statusCode, 200);
  t.same(Buffer.from(await third.body.arrayBuffer()), customerMediaBytes('video'));
});

t.test('a player gone while its entry is read holds no place among the videos streamed at once', async (t) => {
  let open!: () => void;
  const reading = new Promise<void>((resolve) => (open = resolve));
  let asked = 0;
  // The store's answer waits for the test: the player leaves in the meantime.
  const slow = { get: async (id: string) => (asked++, await reading, store.get(id)) };
  const app = Fastify({ logger: false });
  await app.register(mediaRoutes, { store: slow, secret: SECRET, maxVideoStreams: 1 });
  t.teardown(() => app.close());
  const capped = await app.listen({ host: '127.0.0.1', port: 0 });
  const path = await storedVideo('gone-early');
  const { port } = new URL(capped);
  const player = connect(Number(port), '127.0.0.1');
  player.on('error', () => {});
  player.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  await eventually('the entry is being read', () => asked === 1);
  player.destroy();
  await eventually('the gateway saw the player go', async () => (await new Promise<number>((r) => app.server.getConnections((_e, n) => r(n)))) === 0);
  open();
  await eventually('the abandoned request settled', () => wechat.stats.videoDownloads.open === 0, 3000);
  const next = await request(`${capped}${path}`);
  t.equal(next.statusCode, 200, 'the one place is free');
  t.same(Buffer.from(await next.body.arrayBuffer()), customerMediaBytes('video'));
});

t.test('a stream past its deadline is cut off, and its download with it', async (t) => {
  const cuts: string[] = [];
  const short = await gateway({ videoDeadlineMs: 300, videoCut: (why) => cuts.push(why) });
  const res = await request(`${short}${await storedVideo('deadline')}`);
  t.equal(res.statusCode, 200);
  const started = Date.now();
  // Content-Length promised the whole clip: a cut-off body ends in an error.
  const got = await res.body.arrayBuffer().then(
    (b) => b.byteLength,
    () => -1,
  );
  t.not(got, customerMediaBytes('video').length, 'the video did not arrive whole');
  t.ok(Date.now() - started < 1000, `cut off after ${Date.now() - started} ms, before the clip's 1.3 s`);
  await eventually("the simulator's download is closed", () => wechat.stats.videoDownloads.open === 0, 1000, 10);
  t.same(cuts, ['deadline'], 'told why');
});

t.test('a stream on which no byte moves for the stall time (a paused player, WeChat stalled) is cut off, and frees its place', async (t) => {
  const cuts: string[] = [];
  const stalling = await gateway({ maxVideoStreams: 1, videoStallMs: 400, videoCut: (why) => cuts.push(why) });
  // WeChat sends the next piece only after the stall time: nothing moves meanwhile.
  wechat.videoPaceMs = 5000;
  t.teardown(() => (wechat.videoPaceMs = 100));
  const path = await storedVideo('stalled');
  const first = await request(`${stalling}${path}`);
  t.equal(first.statusCode, 200);
  const cut = first.body.arrayBuffer().then(
    () => 'whole',
    () => 'cut off',
  );
  const started = Date.now();
  t.equal(await cut, 'cut off');
  t.ok(Date.now() - started < 2000, `cut off ${Date.now() - started} ms in, not when the clip would have ended`);
  t.same(cuts, ['stall'], 'told once, why');
  await eventually("the simulator's download is closed", () => wechat.stats.videoDownloads.open === 0, 2000, 10);
  wechat.videoPaceMs = 100;
  const next = await request(`${stalling}${path}`);
  t.equal(next.statusCode, 200, 'the one place is free');
  t.same(Buffer.from(await next.body.arrayBuffer()), customerMediaBytes('video'));
});

t.test('a video past the size the relay streams is refused when WeChat declares its length, and cut off when it does not', async (t) => {
  const cuts: string[] = [];
  const small = await gateway({ maxVideoBytes: 1000, videoCut: (why) => cuts.push(why) });
  const declared = await request(`${small}${await storedVideo('declared')}`);
  await declared.body.dump();
  t.equal(declared.statusCode, 502, 'its Content-Length is past the cap: nothing streams');
  t.same(cuts, ['too_large']);
  // A server that sends it chunked, no length said: cut off once past the cap.
  const chunked = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4' });
    const bytes = customerMediaBytes('video');
    let at = 0;
    const next = () => {
      if (res.destroyed) return;
      if (at >= bytes.length) return void res.end();
      res.write(bytes.subarray(at, (at += 256)));
      setTimeout(next, 10);
    };
    next();
  });
  await new Promise<void>((r) => chunked.listen(0, '127.0.0.1', r));
  t.teardown(() => chunked.close());
  const id = mediaEntryId('video', 'chunked');
  const expiresAt = Math.floor(Date.now() / 1000) + 3600;
  await store.put(id, { contentType: 'video/mp4', url: `http://127.0.0.1:${(chunked.address() as AddressInfo).port}/v` }, expiresAt * 1000);
  const res = await request(`${small}/media/${signMediaToken(SECRET, id, expiresAt)}`);
  t.equal(res.statusCode, 200);
  let got = 0;
  const ended = await (async () => {
    for await (const piece of res.body) got += (piece as Buffer).length;
    return 'whole';
  })().catch(() => 'cut off');
  t.equal(ended, 'cut off');
  t.ok(got <= 1000, `${got} bytes at most the cap`);
  t.same(cuts, ['too_large', 'too_large']);
});
