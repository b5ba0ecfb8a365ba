import { KIND_RULES, type MessageKind, isRelayed, parseMessage } from '@wxim/wechat';
import t from 'tap';

const ALL_KINDS: MessageKind[] = [
  'text',
  'rating',
  'image',
  'voice',
  'video',
  'shortvideo',
  'location',
  'link',
  'subscribe',
  'unsubscribe',
  'scan',
  'location_event',
  'click',
  'scancode',
  'view',
  'report',
  'unknown',
];

t.test('every kind of push has its rule, and nothing else does', async (t) => {
  t.same(Object.keys(KIND_RULES).sort(), [...ALL_KINDS].sort());
});

t.test('LOCATION reports, VIEW jumps, reports on the business’s own sends and rating answers are not relayed; everything else is', async (t) => {
  const notRelayed = ALL_KINDS.filter((kind) => !KIND_RULES[kind].relayed);
  t.same(notRelayed, ['rating', 'location_event', 'view', 'report']);
});

t.test('a message opens the 48-hour window, a follow, scan, menu click or rating tap the 1-minute one, anything else none', async (t) => {
  const windows = Object.fromEntries(ALL_KINDS.map((kind) => [kind, KIND_RULES[kind].window ?? 'none']));
  t.same(windows, {
    text: 'message',
    rating: 'action',
    image: 'message',
    voice: 'message',
    video: 'message',
    shortvideo: 'message',
    location: 'message',
    link: 'message',
    subscribe: 'action',
    scan: 'action',
    click: 'action',
    scancode: 'action',
    unsubscribe: 'none',
    location_event: 'none',
    view: 'none',
    report: 'none',
    unknown: 'none',
  });
});

t.test('isRelayed reads the table for a parsed push', async (t) => {
  const push = (fields: string) => parseMessage(`<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>${fields}</xml>`);
  t.ok(isRelayed(push('<MsgType>text</MsgType><Content>hi</Content><MsgId>1</MsgId>')), 'text');
  t.ok(isRelayed(push('<MsgType>event</MsgType><Event>unsubscribe</Event>')), 'unfollow');
  t.ok(isRelayed(push('<MsgType>miniprogrampage</MsgType><MsgId>2</MsgId>')), 'a type this version does not know');
  t.notOk(
    isRelayed(push('<MsgType>event</MsgType><Event>LOCATION</Event><Latitude>1</Latitude><Longitude>2</Longitude><Precision>3</Precision>')),
    'LOCATION report',
  );
  t.notOk(isRelayed(push('<MsgType>event</MsgType><Event>VIEW</Event><EventKey>https://example.com</EventKey>')), 'VIEW');
  t.notOk(isRelayed(push('<MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event><Status>success</Status>')), 'template report');
});
