import { createServer } from 'node:http';
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

const relay = await twoWayForTests(t); // MEDIA_ALLOWED_HOSTS empty: any host whose addresses are all public
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
