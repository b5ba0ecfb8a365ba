import { MessageError, type WechatMessage, XmlError, dedupeId, parseFlatXml, parseMessage } from '@wxim/wechat';
import { pushXml } from '@wxim/sandbox';
import t from 'tap';

const common = { toUserName: 'gh_abcdef123456', fromUserName: 'oUaUm5kQh9bPq-_Z0Aq1yTQ2aBcD', createTime: 1732867200 };

/** One of every message type and event of docs/wechat.md, as typed values. */
const samples: WechatMessage[] = [
  { kind: 'text', ...common, msgId: '24601234567890123456', content: 'hello' },
  { kind: 'image', ...common, msgId: '24601234567890123457', picUrl: 'https://mmbiz.qpic.cn/x.jpg', mediaId: 'media_1' },
  { kind: 'voice', ...common, msgId: '24601234567890123458', mediaId: 'media_2', format: 'amr', recognition: '你好' },
  { kind: 'voice', ...common, msgId: '24601234567890123459', mediaId: 'media_3', format: 'amr' },
  { kind: 'video', ...common, msgId: '24601234567890123460', mediaId: 'media_4', thumbMediaId: 'thumb_4' },
  { kind: 'shortvideo', ...common, msgId: '24601234567890123461', mediaId: 'media_5', thumbMediaId: 'thumb_5' },
  { kind: 'location', ...common, msgId: '24601234567890123462', latitude: 23.134521, longitude: 113.358803, scale: 20, label: '广州市' },
  { kind: 'link', ...common, msgId: '24601234567890123463', title: 'T', description: 'D', url: 'https://example.com/a?b=1&c=2' },
  { kind: 'subscribe', ...common },
  { kind: 'subscribe', ...common, eventKey: 'qrscene_123123', ticket: 'TICKET' },
  { kind: 'unsubscribe', ...common },
  { kind: 'scan', ...common, eventKey: '123123', ticket: 'TICKET' },
  { kind: 'location_event', ...common, latitude: 23.137466, longitude: 113.352425, precision: 119.38504 },
  { kind: 'click', ...common, eventKey: 'MENU_HELP' },
  { kind: 'view', ...common, eventKey: 'https://example.com/' },
];

t.test('every message type and event parses back to what was pushed', async (t) => {
  for (const msg of samples) t.same(parseMessage(pushXml(msg)), msg, `${msg.kind}`);
});

t.test('the documented text push parses, MsgId kept as a 64-bit string', async (t) => {
  const xml = `<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[fromUser]]></FromUserName>
<CreateTime>1348831860</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[this is a test]]></Content>
<MsgId>1234567890123456789</MsgId></xml>`;
  const msg = parseMessage(xml);
  t.match(msg, {
    kind: 'text',
    fromUserName: 'fromUser',
    toUserName: 'toUser',
    createTime: 1348831860,
    content: 'this is a test',
    msgId: '1234567890123456789',
  });
  t.equal(dedupeId(msg), 'm-fromUser-1234567890123456789');
});

t.test('content is byte-identical: emoji, CJK, <&>, ]]>, newlines and edge spaces', async (t) => {
  const content = ' 你好 👋🏽\n<b>&amp;</b> ]]> tail \n\n';
  const msg = parseMessage(pushXml({ kind: 'text', ...common, msgId: '1', content }));
  t.equal(msg.kind === 'text' && msg.content, content);
});

t.test('text outside CDATA has its XML entities decoded, and only the predefined ones', async (t) => {
  const xml =
    '<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lt;&amp;&gt;&#20320;&#x597D;&nbsp;</Content><MsgId>2</MsgId></xml>';
  const msg = parseMessage(xml);
  t.equal(msg.kind === 'text' && msg.content, '<&>你好&nbsp;');
});

t.test('event names are accepted in either case, and unknown types are kept whole', async (t) => {
  const event = parseMessage(
    pushXml({
      kind: 'unknown',
      ...common,
      msgType: 'event',
      event: 'kf_create_session',
      fields: { MsgType: 'event', Event: 'kf_create_session', KfAccount: 'test1@test' },
    }),
  );
  t.match(event, { kind: 'unknown', msgType: 'event', event: 'kf_create_session', fields: { KfAccount: 'test1@test' } });
  const type = parseMessage(
    pushXml({ kind: 'unknown', ...common, msgType: 'miniprogrampage', msgId: '77', fields: { MsgType: 'miniprogrampage', Title: 'x', MsgId: '77' } }),
  );
  t.match(type, { kind: 'unknown', msgType: 'miniprogrampage', msgId: '77' });
  const lower = parseMessage(pushXml(samples[13]!).replace('CLICK', 'click'));
  t.equal(lower.kind, 'click');
});

t.test('dedupe ids: MsgId for messages, openid + time + event (+ key) for events', async (t) => {
  const ids = samples.map(dedupeId);
  t.equal(new Set(ids).size, ids.length, 'all distinct');
  for (const id of ids) t.match(id, /^[A-Za-z0-9_-]+$/);
  t.equal(dedupeId(samples[8]!), `e-${common.fromUserName}-${common.createTime}-subscribe`);
  t.not(dedupeId({ kind: 'view', ...common, eventKey: 'https://a/' }), dedupeId({ kind: 'view', ...common, eventKey: 'https://b/' }));
  // Two events this version does not know, of one kind in one second, differing only in a field.
  const page = (path: string) =>
    parseMessage(
      pushXml({ kind: 'unknown', ...common, msgType: 'event', event: 'weapp_page', fields: { MsgType: 'event', Event: 'weapp_page', PagePath: path } }),
    );
  t.not(dedupeId(page('/a')), dedupeId(page('/b')), 'unknown events: two, by their fields');
  t.equal(dedupeId(page('/a')), dedupeId(page('/a')), "unknown events: WeChat's retry of one is the same");
  // Compatible mode read without the key: the ciphertext beside the plain fields, new at each retry.
  const withCipher = (cipher: string) =>
    parseMessage(
      pushXml({
        kind: 'unknown',
        ...common,
        msgType: 'event',
        event: 'weapp_page',
        fields: { MsgType: 'event', Event: 'weapp_page', PagePath: '/a', Encrypt: cipher },
      }),
    );
  t.equal(dedupeId(withCipher('AAAA')), dedupeId(withCipher('BBBB')), "unknown events: a retry's new ciphertext is the same event");
  t.match(dedupeId(page('/a')), /^[A-Za-z0-9_-]+$/);
});

t.test('DOCTYPE and ENTITY declarations are refused before parsing', async (t) => {
  const bomb = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><xml><Content>&lol2;</Content></xml>';
  t.throws(() => parseFlatXml(bomb), XmlError);
  t.throws(() => parseFlatXml('<!doctype xml SYSTEM "file:///etc/passwd"><xml/>'), XmlError);
});

t.test('malformed documents and missing fields are refused', async (t) => {
  t.throws(() => parseFlatXml('<xml><a>1</b></xml>'), XmlError);
  t.throws(() => parseFlatXml('not xml'), XmlError);
  t.throws(() => parseFlatXml('<root><a>1</a></root>'), XmlError);
  t.throws(
    () => parseMessage(pushXml(samples[0]!).replace(/<Content>.*<\/Content>/, '<Content><b>1</b></Content>')),
    MessageError,
    'a field the push needs, holding elements',
  );
  const good = pushXml(samples[0]!);
  t.throws(() => parseMessage(good.replace(/<MsgId>.*<\/MsgId>/, '')), MessageError);
  t.throws(() => parseMessage(good.replace(/<MsgId>.*<\/MsgId>/, '<MsgId>12a</MsgId>')), MessageError);
  t.throws(() => parseMessage(good.replace(/<CreateTime>.*<\/CreateTime>/, '<CreateTime>soon</CreateTime>')), MessageError);
  t.throws(() => parseMessage(good.replace(/<FromUserName>.*<\/FromUserName>/, '')), MessageError);
  for (const notOpenid of ['wechat-inbound:oVictim0000000000000000001', 'o x', 'o'.repeat(65), 'o\u00e9'])
    t.throws(
      () => parseMessage(good.replace(/<FromUserName>.*<\/FromUserName>/, `<FromUserName><![CDATA[${notOpenid}]]></FromUserName>`)),
      MessageError,
      notOpenid,
    );
  t.throws(() => parseMessage(good.replace(/<MsgType>.*<\/MsgType>/, '')), MessageError);
});

t.test("reports on the business's own sends parse as reports; elements within elements are left out", async (t) => {
  const head = '<ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1650896441</CreateTime><MsgType>event</MsgType>';
  for (const event of ['TEMPLATESENDJOBFINISH', 'MASSSENDJOBFINISH', 'PUBLISHJOBFINISH', 'subscribe_msg_sent_event']) {
    const msg = parseMessage(`<xml>${head}<Event>${event}</Event><PublishEventInfo><publish_id>1</publish_id></PublishEventInfo></xml>`);
    t.same(msg, { kind: 'report', toUserName: 'gh_1', fromUserName: 'o1', createTime: 1650896441, event }, event);
  }
  t.same(parseFlatXml('<xml><A>1</A><B><C>2</C><C>3</C></B></xml>'), { A: '1' }, 'B holds elements: left out');
  t.same(parseFlatXml('<xml><A>1</A><A>2</A></xml>'), { A: '1' }, 'a field given twice keeps its first text');
  t.throws(() => parseFlatXml('<xml><A>&#x110000;</A></xml>'), XmlError, 'a character reference past Unicode is refused');
  t.equal(parseFlatXml('<xml><A>&#x1F600;&#65;&amp;</A></xml>')['A'], '😀A&', 'valid references decode');
});

t.test('a scan-code menu event carries what was scanned', async (t) => {
  const push = parseMessage(
    '<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1408090606</CreateTime>' +
      '<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[scancode_push]]></Event><EventKey><![CDATA[6]]></EventKey>' +
      '<ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType><ScanResult><![CDATA[1]]></ScanResult></ScanCodeInfo></xml>',
  );
  t.same(push, {
    kind: 'scancode',
    toUserName: 'gh_1',
    fromUserName: 'o1',
    createTime: 1408090606,
    event: 'scancode_push',
    eventKey: '6',
    scanType: 'qrcode',
    scanResult: '1',
  });
});
