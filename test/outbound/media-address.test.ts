import { createServer } from 'node:http';
import { Writable } from 'node:stream';
import { imageElem } from '@wxim/im';
import { fakeOpenId } from '@wxim/sandbox';
import { eventually, twoWayForTests } from '@wxim/testkit';
import t from 'tap';

// A media server on loopback that would serve the image: with no MEDIA_ALLOWED_HOSTS, the pusher must not ask it.
let asked = 0;
const media = createServer((_req, res) => {
  asked++;
  res.writeHead(200, { 'content-type': 'image/png' });
  res.end(Buffer.alloc(64));
});
await new Promise<void>((r) => media.listen(0, '127.0.0.1', r));
t.teardown(() => media.close());
const port = (media.address() as { port: number }).port;

// The pusher's log lines, to read what an operator would.
let logs = '';
const logStream = new Writable({
  write(chunk: Buffer, _enc, done) {
    logs += chunk.toString();
    done();
  },
});

// MEDIA_ALLOWED_HOSTS empty: any host whose addresses are all public.
const relay = await twoWayForTests(t, { env: { LOG_LEVEL: 'warn' }, pusher: { logStream } });
const { im, wechatApi } = relay;

t.test('a media URL on a loopback address is refused without a request to it, and its agent told', async (t) => {
  const openid = fakeOpenId();
  const agent = await relay.customerWrites(openid, 'send me the picture');
  const userId = im.messages.find((m) => m.cloudCustomData?.includes(openid))!.from;
  await im.agentSend(agent, userId, [imageElem('uuid-3', `http://localhost:${port}/internal.png`)]);
  await eventually('a notice reaches the agent', () => im.messages.some((m) => m.to === agent && m.cloudCustomData?.includes('relay-notice')));
  const notice = im.messages.find((m) => m.to === agent && m.cloudCustomData?.includes('relay-notice'))!;
  t.match(String(notice.body[0]!.MsgContent['Text']), /image could not be used/);
  t.equal(asked, 0, 'the internal server was never asked');
  t.equal(wechatApi.sentTo(openid).length, 0);
});

t.test('the agent, the logs and the failed job hear "not a public address", never what the name resolved to', async (t) => {
  const openid = fakeOpenId();
  const agent = await relay.customerWrites(openid, 'the picture, please');
  const userId = im.messages.find((m) => m.cloudCustomData?.includes(openid))!.from;
  await im.agentSend(agent, userId, [imageElem('uuid-4', `http://localhost:${port}/secret.png`)]);
  await eventually('a notice reaches the agent', () => im.messages.some((m) => m.to === agent && m.cloudCustomData?.includes('relay-notice')));
  const notice = im.messages.find((m) => m.to === agent && m.cloudCustomData?.includes('relay-notice'))!;
  let failed = '';
  await eventually('the job failed', async () => {
    failed = (await relay.pusher.queue.getFailed()).find((j) => j.data.openid === openid)?.failedReason ?? '';
    return failed !== '';
  });
  const told = {
    notice: String(notice.body[0]!.MsgContent['Text']),
    'notice reason': notice.cloudCustomData ?? '',
    'failed job': failed,
    log: logs.split('\n').find((line) => line.includes('secret.png')) ?? '',
  };
  for (const [where, text] of Object.entries(told)) {
    t.match(text, `http://localhost:${port}/secret.png: not a public address`, where);
    t.notMatch(text, /127\.0\.0\.1|::1|loopback/, `${where}: no address, no address kind`);
  }
});
