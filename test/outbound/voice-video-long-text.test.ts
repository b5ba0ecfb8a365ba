import { createServer } from 'node:http';
import { textElem } from '@wxim/im';
import { fakeOpenId } from '@wxim/sandbox';
import { twoWayForTests } from '@wxim/testkit';
import t from 'tap';

// An agent tool's media server on loopback, which MEDIA_ALLOWED_HOSTS lets the pusher fetch.
const files: Record<string, { type: string; bytes: Buffer }> = {
  '/hello.mp3': { type: 'audio/mpeg', bytes: Buffer.concat([Buffer.from('ID3'), Buffer.alloc(4096, 1)]) },
  '/clip.mp4': { type: 'video/mp4', bytes: Buffer.concat([Buffer.from('000000186674797069736f6d', 'hex'), Buffer.alloc(8192, 2)]) },
  '/hello.m4a': { type: 'audio/mp4', bytes: Buffer.alloc(1024, 3) },
};
// How many more asks of a path answer 503 (IM's storage having a bad moment).
const unavailable = new Map<string, number>();
const media = createServer((req, res) => {
  const failing = unavailable.get(req.url ?? '') ?? 0;
  if (failing > 0) {
    unavailable.set(req.url!, failing - 1);
    return void res.writeHead(503).end();
  }
  const file = files[req.url ?? ''];
  if (file === undefined) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': file.type, 'content-length': file.bytes.length });
  res.end(file.bytes);
});
await new Promise<void>((r) => media.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${(media.address() as { port: number }).port}`;
t.teardown(() => media.close());

const relay = await twoWayForTests(t, { env: { MEDIA_ALLOWED_HOSTS: new URL(origin).host } });
const { im, wechatApi } = relay;

async function conversation() {
  const openid = fakeOpenId();
  const agent = await relay.customerWrites(openid, 'hello');
  const userId = im.messages.find((m) => m.cloudCustomData?.includes(openid))!.from;
  return { openid, agent, userId };
}

t.test('a voice message in MP3 is downloaded, uploaded as voice and sent as voice, once', async (t) => {
  const { openid, agent, userId } = await conversation();
  const { bytes } = files['/hello.mp3']!;
  await im.agentSend(agent, userId, [{ MsgType: 'TIMSoundElem', MsgContent: { Url: `${origin}/hello.mp3`, Second: 3, Size: bytes.length, UUID: 'v1' } }]);
  const [sent] = await relay.waitForSent(openid, 1);
  t.match(sent, { msgtype: 'voice' });
  const stored = wechatApi.media.get(String(sent!.payload['media_id']));
  t.equal(stored?.type, 'voice');
  t.same(stored?.bytes, bytes, 'the uploaded bytes are the recording');
  t.equal(wechatApi.sentTo(openid).length, 1);
});

t.test('a file its host fails to serve once (503) is fetched again: the whole reply arrives, in order, once each', async (t) => {
  const { openid, agent, userId } = await conversation();
  unavailable.set('/hello.mp3', 1);
  const { bytes } = files['/hello.mp3']!;
  await im.agentSend(agent, userId, [
    { MsgType: 'TIMTextElem', MsgContent: { Text: 'listen to this' } },
    { MsgType: 'TIMSoundElem', MsgContent: { Url: `${origin}/hello.mp3`, Second: 3, Size: bytes.length, UUID: 'v3' } },
    { MsgType: 'TIMTextElem', MsgContent: { Text: 'that was it' } },
  ]);
  const sent = await relay.waitForSent(openid, 3);
  t.same(
    sent.map((m) => (m.msgtype === 'text' ? m.payload['content'] : m.msgtype)),
    ['listen to this', 'voice', 'that was it'],
  );
  t.equal(unavailable.get('/hello.mp3'), 0, 'the host did fail once');
  const metrics = (await relay.pusher.app.inject({ url: '/metrics' })).body;
  t.match(metrics, /^wxim_pusher_retries_total\{class="media"\} 1$/m, 'retried as a passing media failure');
});

t.test("IM's own AAC recording, which WeChat does not take, goes as a link the customer can open", async (t) => {
  const { openid, agent, userId } = await conversation();
  await im.agentSend(agent, userId, [{ MsgType: 'TIMSoundElem', MsgContent: { Url: `${origin}/hello.m4a`, Second: 65, Size: 1024, UUID: 'v2' } }]);
  const [sent] = await relay.waitForSent(openid, 1);
  t.match(sent, { msgtype: 'text', payload: { content: `🔊 Voice message (1:05): ${origin}/hello.m4a` } });
});

t.test('a video in MP4 is uploaded as video and sent as video, once', async (t) => {
  const { openid, agent, userId } = await conversation();
  const { bytes } = files['/clip.mp4']!;
  await im.agentSend(agent, userId, [
    {
      MsgType: 'TIMVideoFileElem',
      MsgContent: { VideoUrl: `${origin}/clip.mp4`, VideoSecond: 12, VideoSize: bytes.length, VideoFormat: 'mp4', VideoUUID: 'c1' },
    },
  ]);
  const [sent] = await relay.waitForSent(openid, 1);
  t.match(sent, { msgtype: 'video' });
  const stored = wechatApi.media.get(String(sent!.payload['media_id']));
  t.equal(stored?.type, 'video');
  t.same(stored?.bytes, bytes, 'the uploaded bytes are the video');
  t.equal(wechatApi.sentTo(openid).length, 1);
});

t.test('a text longer than WeChat takes in one send arrives in parts of at most 2048 bytes, in order, once each, nothing lost', async (t) => {
  const { openid, agent, userId } = await conversation();
  // 500 sentences of mostly 3-byte characters: about 5,900 bytes (IM takes up to 8 KB here), three sends.
  const sentences = Array.from({ length: 500 }, (_, i) => `第${i}句。`);
  const text = sentences.join('');
  await im.agentSend(agent, userId, [textElem(text)]);
  const parts = Math.ceil(Buffer.byteLength(text) / 2048);
  const sent = await relay.waitForSent(openid, parts);
  const contents = sent.map((m) => String(m.payload['content']));
  t.ok(
    contents.every((c) => Buffer.byteLength(c) <= 2048),
    `every part within 2048 bytes (${contents.map((c) => Buffer.byteLength(c)).join(', ')})`,
  );
  t.equal(contents.join(''), text, 'the parts, in order, are the text');
  t.equal(wechatApi.sentTo(openid).length, parts, `${parts} sends, none twice`);
  t.equal(im.messages.filter((m) => m.to === agent && m.cloudCustomData?.includes('relay-notice')).length, 0, 'no notice: all delivered');
});
