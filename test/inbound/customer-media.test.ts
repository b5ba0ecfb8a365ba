import { spawn } from 'node:child_process';
import { type InboundJob, QUEUES } from '@wxim/queue';
import { type ReceivedMessage, WechatApiSimulator, customerMediaBytes, fakeOpenId } from '@wxim/sandbox';
import { mediaEntryId, signMediaToken } from '@wxim/state';
import { APP_ID, APP_SECRET, eventually, metricLines, relayForTests, textOf } from '@wxim/testkit';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { request } from 'undici';

// The agent's IM client reaches the gateway at MEDIA_PUBLIC_URL through an ingress; here the test
// is the ingress, sending each link's path to the gateway itself.
const PUBLIC_URL = 'https://relay.example.test';
const SECRET = 'customer-media-test-secret-0123456789abcdef';

const wechatApi = new WechatApiSimulator({ appId: APP_ID, secret: APP_SECRET });
const apiUrl = await wechatApi.listen();
t.teardown(() => wechatApi.close());
// The worker starts after the first test, which runs a job by hand first.
const relay = await relayForTests(t, {
  startWorker: false,
  env: { WECHAT_APP_SECRET: APP_SECRET, WECHAT_API_BASE: apiUrl, MEDIA_PUBLIC_URL: PUBLIC_URL, MEDIA_URL_SECRET: SECRET },
});
const { wechat, im } = relay;

async function fetchLink(t: Test, link: string) {
  t.ok(link.startsWith(`${PUBLIC_URL}/media/`), 'a link under MEDIA_PUBLIC_URL');
  return fetchPath(link.slice(PUBLIC_URL.length));
}

async function fetchPath(path: string) {
  const res = await request(`${relay.gateway.url}${path}`);
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
}

/** Signed 16-bit PCM at 8 kHz, mono, as ffmpeg decodes `bytes`. */
function decodeToPcm(bytes: Buffer): Promise<Int16Array> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', 'pipe:0', '-f', 's16le', '-ac', '1', '-ar', '8000', 'pipe:1']);
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`ffmpeg exited ${code}`));
      const pcm = Buffer.concat(out);
      resolve(new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2));
    });
    child.stdin.end(bytes);
  });
}

/** The tone's frequency from its zero crossings (two per period), over the middle of the sound. */
function frequency(pcm: Int16Array, rate: number): number {
  const from = Math.floor(pcm.length * 0.2);
  const to = Math.floor(pcm.length * 0.8);
  let crossings = 0;
  for (let i = from + 1; i < to; i++) if (pcm[i - 1]! < 0 !== pcm[i]! < 0) crossings++;
  return crossings / 2 / ((to - from) / rate);
}

function elem(m: ReceivedMessage, type: string): Record<string, unknown> {
  const e = m.body.find((b) => b.MsgType === type);
  if (e === undefined) throw new Error(`no ${type} in ${JSON.stringify(m.body)}`);
  return e.MsgContent;
}

t.test('a voice job run twice sends one IM message: the element is identical on the rerun and IM drops it', async (t) => {
  const openid = fakeOpenId();
  t.equal((await wechat.push(wechat.voice(openid))).status, 200);
  const connection = new Redis(relay.redisUrl, { maxRetriesPerRequest: null });
  const first = new Worker<InboundJob>(QUEUES.wechatInbound, undefined, { connection, prefix: relay.env['QUEUE_PREFIX'], autorun: false });
  t.teardown(async () => {
    await first.close();
    connection.disconnect();
  });
  const job = await first.getNextJob('first-token');
  await relay.worker.runJob(job, 'first-token');
  t.equal(im.messagesBetween(openid).length, 1, 'IM has it');
  // As if the worker died before the job was recorded done: the job runs again, within IM's window.
  await job.moveToWait('first-token');
  relay.worker.start();
  await eventually('the rerun is done', async () => (await relay.gateway.gateway.queue.getCompletedCount()) === 1);
  t.equal(im.messagesBetween(openid).length, 1, 'still one message');
  t.equal(im.stats.duplicatesDropped, 1, 'IM dropped the resend as a duplicate: same MsgSeq, MsgRandom and content');
  t.equal(wechatApi.stats.calls['media/get'], 1, 'the recording was fetched from WeChat once; the rerun used what the first run stored');
});

t.test("a customer's voice reaches the agent as a sound the test fetches and decodes: a 2 s, 440 Hz tone, with WeChat's recognition beside it", async (t) => {
  const openid = fakeOpenId();
  const push = wechat.voice(openid, { recognition: '你好，我想问一下' });
  const before = im.messages.length;
  t.equal((await wechat.push(push)).status, 200);
  const [m] = (await relay.waitForMessages(before + 1)).slice(before);
  t.same(
    m!.body.map((b) => b.MsgType),
    ['TIMSoundElem', 'TIMTextElem'],
  );
  t.equal(elem(m!, 'TIMTextElem')['Text'], '[voice] 你好，我想问一下', 'the recognition kept');
  const sound = elem(m!, 'TIMSoundElem');
  t.match(sound, { Second: 2, Download_Flag: 2, UUID: /^[A-Za-z0-9_-]{32}$/ });
  const res = await fetchLink(t, String(sound['Url']));
  t.equal(res.status, 200);
  t.equal(res.headers['content-type'], 'audio/mpeg');
  t.equal(Number(res.headers['content-length']), res.body.length);
  t.equal(sound['Size'], res.body.length, 'Size is the served length');
  const maxAge = Number(/^private, max-age=(\d+)$/.exec(String(res.headers['cache-control']))?.[1]);
  t.ok(maxAge > 0 && maxAge <= push.createTime + 3 * 86400 - Math.floor(Date.now() / 1000) + 1, `cached no longer than the link lives (${maxAge} s)`);
  const pcm = await decodeToPcm(res.body);
  const seconds = pcm.length / 8000;
  t.ok(Math.abs(seconds - 2) < 0.2, `about 2 s of sound (${seconds.toFixed(2)} s)`);
  const hz = frequency(pcm, 8000);
  t.ok(Math.abs(hz - 440) < 15, `a 440 Hz tone (${hz.toFixed(1)} Hz)`);

  // Safari's and the iPad's players ask for the first two bytes, and play only if answered 206.
  t.equal(res.headers['accept-ranges'], 'bytes', 'ranges offered');
  const path = String(sound['Url']).slice(PUBLIC_URL.length);
  const ranged = async (range: string) => {
    const r = await request(`${relay.gateway.url}${path}`, { headers: { range } });
    return { status: r.statusCode, headers: r.headers, body: Buffer.from(await r.body.arrayBuffer()) };
  };
  const probe = await ranged('bytes=0-1');
  t.equal(probe.status, 206);
  t.equal(probe.headers['content-range'], `bytes 0-1/${res.body.length}`);
  t.same(probe.body, res.body.subarray(0, 2), 'the first two bytes');
  const tail = await ranged('bytes=-100');
  t.equal(tail.status, 206);
  t.same(tail.body, res.body.subarray(res.body.length - 100), 'the last 100 bytes');
  const rest = await ranged(`bytes=1000-`);
  t.same(rest.body, res.body.subarray(1000), 'from a byte to the end');
  const past = await ranged(`bytes=${res.body.length}-`);
  t.equal(past.status, 416, 'past the end: not satisfiable');
  t.equal(past.headers['content-range'], `bytes */${res.body.length}`);
});

t.test('a video reaches the agent with a link streaming the video byte-identical and a thumbnail link', async (t) => {
  const openid = fakeOpenId();
  const before = im.messages.length;
  t.equal((await wechat.push(wechat.video(openid, 'shortvideo'))).status, 200);
  const [m] = (await relay.waitForMessages(before + 1)).slice(before);
  const video = elem(m!, 'TIMVideoFileElem');
  t.match(video, { VideoFormat: 'mp4', VideoDownloadFlag: 2, ThumbDownloadFlag: 2, ThumbFormat: 'JPG', ThumbWidth: 160, ThumbHeight: 120 });
  const clip = await fetchLink(t, String(video['VideoUrl']));
  t.equal(clip.status, 200);
  t.equal(clip.headers['content-type'], 'video/mp4');
  t.same(clip.body, customerMediaBytes('video'), 'the video, byte for byte');
  t.same(
    await metricLines(relay.gateway.gateway.app, 'wxim_gateway_video_cut_total'),
    ['busy', 'deadline', 'stall', 'too_large'].map((why) => `wxim_gateway_video_cut_total{why="${why}"} 0`),
    'a video streamed whole is not counted as cut; every reason is there to alert on',
  );
  const thumb = await fetchLink(t, String(video['ThumbUrl']));
  t.equal(thumb.status, 200);
  t.equal(thumb.headers['content-type'], 'image/jpeg');
  t.same(thumb.body, customerMediaBytes('thumb'));
  t.equal(video['ThumbSize'], thumb.body.length);
});

t.test('links that are forged, expired, unknown or tricks get 403 or 404 and an empty body', async (t) => {
  const openid = fakeOpenId();
  const before = im.messages.length;
  await wechat.push(wechat.voice(openid));
  const [m] = (await relay.waitForMessages(before + 1)).slice(before);
  const path = String(elem(m!, 'TIMSoundElem')['Url']).slice(PUBLIC_URL.length);
  const [id, expires, sig] = path.slice('/media/'.length).split('.') as [string, string, string];
  const flipped = `${sig.slice(0, 5)}${sig[5] === 'A' ? 'B' : 'A'}${sig.slice(6)}`;
  const past = Math.floor(Date.now() / 1000) - 60;
  const cases: [string, string, number][] = [
    ['a tampered signature', `/media/${id}.${expires}.${flipped}`, 403],
    ['a longer life written in', `/media/${id}.${Number(expires) + 86400}.${sig}`, 403],
    ['an expired link, properly signed', `/media/${signMediaToken(SECRET, id, past)}`, 403],
    ['a signed link to nothing stored', `/media/${signMediaToken(SECRET, mediaEntryId('voice', 'never-sent'), Number(expires))}`, 404],
    ['a path trick', `/media/..%2F..%2Fwechat`, 403],
    ['a key name', `/media/${relay.env['QUEUE_PREFIX']}:media:${id}`, 403],
    ['nothing', '/media/', 403],
  ];
  for (const [what, p, status] of cases) {
    const res = await fetchPath(p);
    t.equal(res.status, status, what);
    t.equal(res.body.length, 0, `${what}: no body`);
  }
  t.equal((await fetchPath(path)).status, 200, 'the real link still works');
});

t.test('media WeChat no longer holds (40007) reaches the agent as the text note', async (t) => {
  const openid = fakeOpenId();
  const before = im.messages.length;
  await wechat.push(wechat.voice(openid, { mediaId: 'expired-media-id', recognition: 'hello' }));
  const [m] = (await relay.waitForMessages(before + 1)).slice(before);
  t.same(
    m!.body.map((b) => b.MsgType),
    ['TIMTextElem'],
  );
  t.equal(textOf(m!), '[voice] hello');
});
