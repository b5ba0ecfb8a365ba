// The video link of media/get's answer: WeChat's are plain http, and must be taken as they are.
import { videoLinkOf } from '@wxim/wechat';
import t from 'tap';

t.test("WeChat's plain-http video link is taken, whatever API base the relay calls", async (t) => {
  // The form WeChat answers with (its CDN host by IP, the file, a vkey): http, never https.
  const link = 'http://203.205.137.73/vweixinp.tc.qq.com/1007_28f9fa0509f74176ac1c64e6df49e827.f10.mp4?vkey=2A8D5CD910EF3A71&sha=0&save=1';
  t.equal(videoLinkOf({ video_url: link }), link);
  t.equal(videoLinkOf({ video_url: 'https://vweixinp.tc.qq.com/a.mp4' }), 'https://vweixinp.tc.qq.com/a.mp4');
});

t.test('anything the gateway could not stream is no link (the agent gets the note, not retries)', async (t) => {
  for (const bad of [
    'http://exa mple.com/a.mp4',
    'http://[::1/a.mp4',
    'ftp://example.com/a.mp4',
    'javascript:alert(1)',
    'file:///etc/passwd',
    'http://',
    '',
    42,
    null,
  ])
    t.equal(videoLinkOf({ video_url: bad }), undefined, String(bad));
  t.equal(videoLinkOf({}), undefined, 'none');
});
