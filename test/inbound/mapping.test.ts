import type { WechatMessage } from '@wxim/wechat';
import { fakeOpenId, nextMsgId } from '@wxim/sandbox';
import type { RelayResult } from '@wxim/im-worker';
import t from 'tap';
import { relayForTests, textOf } from '@wxim/testkit';

const relay = await relayForTests(t);
const { wechat, im } = relay;

t.test('every WeChat type reaches the agent as the agreed IM element, in order; LOCATION and VIEW do not', async (t) => {
  const openid = fakeOpenId();
  const common = { toUserName: wechat.accountId, fromUserName: openid };
  let time = Math.floor(Date.now() / 1000) - 100;
  const at = () => ({ ...common, createTime: time++ });
  const pushes: WechatMessage[] = [
    { kind: 'image', ...at(), msgId: nextMsgId(), picUrl: 'https://mmbiz.qpic.cn/pic.jpg', mediaId: 'img_media' },
    { kind: 'location', ...at(), msgId: nextMsgId(), latitude: 23.134521, longitude: 113.358803, scale: 20, label: 'Guangzhou Tower' },
    { kind: 'link', ...at(), msgId: nextMsgId(), title: 'A title', description: 'A description', url: 'https://example.com/a?b=1&c=2' },
    { kind: 'voice', ...at(), msgId: nextMsgId(), mediaId: 'voice_media', format: 'amr', recognition: '我想退货' },
    { kind: 'voice', ...at(), msgId: nextMsgId(), mediaId: 'voice_media_2', format: 'amr' },
    { kind: 'video', ...at(), msgId: nextMsgId(), mediaId: 'video_media', thumbMediaId: 'thumb' },
    { kind: 'shortvideo', ...at(), msgId: nextMsgId(), mediaId: 'short_media', thumbMediaId: 'thumb' },
    { kind: 'location_event', ...at(), latitude: 1, longitude: 2, precision: 3 },
    { kind: 'view', ...at(), eventKey: 'https://example.com/menu' },
    { kind: 'scan', ...at(), eventKey: 'scene_42', ticket: 'T' },
    { kind: 'click', ...at(), eventKey: 'MENU_HELP' },
    { kind: 'scancode', ...at(), event: 'scancode_waitmsg', eventKey: 'SCAN_ORDER', scanType: 'qrcode', scanResult: 'ORDER-12345' },
    { kind: 'unknown', ...at(), msgType: 'miniprogrampage', msgId: nextMsgId(), fields: { MsgType: 'miniprogrampage', Title: 'x' } },
  ];
  for (const push of pushes) t.equal((await wechat.push(push)).status, 200, push.kind);
  const relayed = pushes.length - 2;
  await relay.waitForMessages(relayed);
  const got = im.messagesBetween(openid);
  t.equal(got.length, relayed, 'nothing else arrived');
  t.same(
    got.map((m) => m.body[0]!.MsgType),
    [
      'TIMImageElem',
      'TIMLocationElem',
      'TIMTextElem',
      'TIMTextElem',
      'TIMTextElem',
      'TIMTextElem',
      'TIMTextElem',
      'TIMTextElem',
      'TIMTextElem',
      'TIMTextElem',
      'TIMTextElem',
    ],
  );
  t.match(got[0]!.body[0]!.MsgContent, {
    UUID: 'img_media',
    ImageFormat: 1,
    ImageInfoArray: [{ Type: 1, URL: 'https://mmbiz.qpic.cn/pic.jpg' }, { Type: 2 }, { Type: 3 }],
  });
  t.same(got[1]!.body[0]!.MsgContent, { Desc: 'Guangzhou Tower', Latitude: 23.134521, Longitude: 113.358803 });
  t.equal(textOf(got[2]!), 'A title\nA description\nhttps://example.com/a?b=1&c=2');
  t.equal(textOf(got[3]!), '[voice] 我想退货');
  t.match(textOf(got[4]!), /voice message: media id voice_media_2/);
  t.match(textOf(got[5]!), /video message: media id video_media/);
  t.match(textOf(got[6]!), /short video message: media id short_media/);
  t.match(textOf(got[7]!), /scanned QR code scene scene_42/);
  t.match(textOf(got[8]!), /tapped menu item MENU_HELP/);
  t.equal(textOf(got[9]!), '[scanned a qrcode with menu item SCAN_ORDER, waiting for your answer] ORDER-12345', 'what was scanned, from ScanCodeInfo');
  t.match(textOf(got[10]!), /miniprogrampage/);
  const skipped = await relay.gateway.gateway.queue.getJobs(['completed']);
  t.ok(
    skipped.some((j) => j.data.message.kind === 'location_event' && (j.returnvalue as RelayResult | undefined)?.outcome === 'skipped'),
    'LOCATION completed as skipped',
  );
});

t.test("the platform's reports on the business's own sends are stored and skipped: no IM account, no IM call", async (t) => {
  const openid = fakeOpenId();
  const calls = im.stats.calls;
  const common = `<ToUserName><![CDATA[${wechat.accountId}]]></ToUserName><FromUserName><![CDATA[${openid}]]></FromUserName><CreateTime>${Math.floor(Date.now() / 1000)}</CreateTime><MsgType><![CDATA[event]]></MsgType>`;
  const reports = [
    `<xml>${common}<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>200163836</MsgID><Status><![CDATA[success]]></Status></xml>`,
    // A mass send's report carries elements within elements.
    `<xml>${common}<Event><![CDATA[MASSSENDJOBFINISH]]></Event><MsgID>1000000003</MsgID><Status><![CDATA[send success]]></Status><TotalCount>4</TotalCount>` +
      `<CopyrightCheckResult><Count>0</Count><ResultList></ResultList><CheckState>0</CheckState></CopyrightCheckResult>` +
      `<ArticleUrlResult><Count>1</Count><ResultList><item><ArticleIdx>1</ArticleIdx><ArticleUrl><![CDATA[http://mp.weixin.qq.com/s/x]]></ArticleUrl></item></ResultList></ArticleUrlResult></xml>`,
  ];
  for (const xml of reports) t.equal((await wechat.post(wechat.signXml(xml, openid))).status, 200, 'answered 200');
  const queue = relay.gateway.gateway.queue;
  let jobs: Awaited<ReturnType<typeof queue.getJobs>> = [];
  for (let i = 0; i < 200; i++) {
    jobs = (await queue.getJobs(['completed'])).filter((j) => j.data.message.fromUserName === openid);
    if (jobs.length === 2) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  t.same(jobs.map((j) => [j.data.message.kind, (j.returnvalue as RelayResult | undefined)?.outcome]).sort(), [
    ['report', 'skipped'],
    ['report', 'skipped'],
  ]);
  t.equal(im.stats.calls, calls, 'IM was not called');
  t.notOk(im.accounts.has(openid), 'no account was imported for them');
});
