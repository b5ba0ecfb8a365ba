import { type RelayCustomData, decodeRelayCustomData, encodeRelayCustomData } from '@wxim/im';
import t from 'tap';

const OPENID = 'oVqWf5xTYcQxq1LhzuFV4Gc_dJ5c';

t.test('each kind of data the relay writes decodes to itself', async (t) => {
  const cases: RelayCustomData[] = [
    { source: 'wechat', openid: OPENID, type: 'text', msgId: '23849751234567890', createTime: 1_700_000_000 },
    { source: 'wechat', openid: OPENID, type: 'subscribe', createTime: 1_700_000_001 },
    { source: 'relay-notice', replyTo: '144115198243117553-1700000000-12345', reason: 'the customer has not written yet' },
  ];
  for (const data of cases) t.same(decodeRelayCustomData(encodeRelayCustomData(data)), data, `${data.source}: ${encodeRelayCustomData(data)}`);
});

t.test('the JSON written is what IM already holds: same fields, same order, whatever order they are given in', async (t) => {
  t.equal(
    encodeRelayCustomData({ createTime: 1_700_000_000, msgId: '42', type: 'text', openid: OPENID, source: 'wechat' }),
    `{"source":"wechat","openid":"${OPENID}","type":"text","msgId":"42","createTime":1700000000}`,
  );
  t.equal(
    encodeRelayCustomData({ source: 'wechat', openid: OPENID, type: 'scan', createTime: 1_700_000_000 }),
    `{"source":"wechat","openid":"${OPENID}","type":"scan","createTime":1700000000}`,
    'no msgId for an event',
  );
  t.equal(encodeRelayCustomData({ reason: 'why', replyTo: 'k1', source: 'relay-notice' }), '{"source":"relay-notice","replyTo":"k1","reason":"why"}');
});

t.test("strings in IM's history decode", async (t) => {
  t.same(decodeRelayCustomData(`{"source":"wechat","openid":"${OPENID}","type":"image","msgId":"6054768590064713728","createTime":1348831860}`), {
    source: 'wechat',
    openid: OPENID,
    type: 'image',
    msgId: '6054768590064713728',
    createTime: 1348831860,
  });
  t.same(decodeRelayCustomData(`{"source":"wechat","openid":"${OPENID}","type":"event_x","createTime":1348831860}`), {
    source: 'wechat',
    openid: OPENID,
    type: 'event_x',
    createTime: 1348831860,
  });
  t.same(
    decodeRelayCustomData(
      '{"source":"relay-notice","replyTo":"k3","reason":"the replies this window allows are used up; the customer has to write again first"}',
    ),
    { source: 'relay-notice', replyTo: 'k3', reason: 'the replies this window allows are used up; the customer has to write again first' },
  );
});

t.test("the marker alone makes it the relay's: a field missing or of another type is left out", async (t) => {
  t.same(decodeRelayCustomData('{"source":"relay-notice"}'), { source: 'relay-notice' });
  t.same(decodeRelayCustomData('{"source":"wechat"}'), { source: 'wechat' });
  t.same(decodeRelayCustomData('{"source":"wechat","openid":7,"msgId":42,"createTime":"1700000000","type":null,"extra":1}'), { source: 'wechat' });
  t.same(decodeRelayCustomData('{"source":"relay-notice","replyTo":["k"],"reason":"why"}'), { source: 'relay-notice', reason: 'why' });
});

t.test("an agent client's own data, no data and garbage are not the relay's, and never throw", async (t) => {
  const notOurs = [
    undefined,
    '',
    '{"a":1}',
    '{"source":"tuikit","openid":"x"}',
    '{"source":"WECHAT"}',
    '{"Source":"wechat"}',
    '{"source":["wechat"]}',
    'not json',
    '{"source":"wechat"',
    'null',
    '"wechat"',
    '42',
    'true',
    '["wechat"]',
    '[{"source":"wechat"}]',
  ];
  for (const raw of notOurs) t.equal(decodeRelayCustomData(raw), undefined, String(raw));
});
