import { MAX_MARK_REASON_CHARS, type RelayCustomData, decodeRelayCustomData, encodeRelayCustomData, readRelayMark, withRelayMark } from '@wxim/im';
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

t.test("a delivery mark merges into the agent client's data and keeps every other key", async (t) => {
  const client = JSON.stringify({ messageReply: { messageID: 'm1', messageAbstract: 'hi' }, messageReact: { '👍': ['a1'] }, version: 1 });
  const marked = withRelayMark(client, { state: 'delivered', at: 1_700_000_000_123 })!;
  t.same(JSON.parse(marked), {
    messageReply: { messageID: 'm1', messageAbstract: 'hi' },
    messageReact: { '👍': ['a1'] },
    version: 1,
    relayMark: { state: 'delivered', at: 1_700_000_000_123 },
  });
  t.same(readRelayMark(marked), { state: 'delivered', at: 1_700_000_000_123 });
  const again = withRelayMark(marked, { state: 'not_delivered', at: 1_700_000_000_456, reason: 'the window has closed' })!;
  const parsed = JSON.parse(again) as Record<string, unknown>;
  t.same(parsed['messageReply'], { messageID: 'm1', messageAbstract: 'hi' }, 'a second mark keeps the keys too');
  t.same(readRelayMark(again), { state: 'not_delivered', at: 1_700_000_000_456, reason: 'the window has closed' }, 'and replaces the first mark');
  t.equal(Object.keys(parsed).filter((k) => k === 'relayMark').length, 1);
});

t.test('a message IM holds without data (an empty string) gets an object holding the mark alone', async (t) => {
  t.equal(withRelayMark('', { state: 'queued', at: 5 }), '{"relayMark":{"state":"queued","at":5}}');
});

t.test("a client's data that is not a JSON object is left alone", async (t) => {
  for (const raw of ['plain words', '[1,2]', '"a string"', '42', 'null', '{"broken":'])
    t.equal(withRelayMark(raw, { state: 'delivered', at: 1 }), undefined, raw);
});

t.test("a marked agent message is still an agent's message, not the relay's", async (t) => {
  for (const raw of ['', '{"messageReply":{"messageID":"m1"}}'])
    t.equal(decodeRelayCustomData(withRelayMark(raw, { state: 'delivered', at: 1 })), undefined, String(raw));
});

t.test('a long reason is cut, never mid-character', async (t) => {
  const reason = '😀'.repeat(MAX_MARK_REASON_CHARS + 10);
  const mark = readRelayMark(withRelayMark('', { state: 'not_delivered', at: 1, reason }))!;
  t.equal([...mark.reason!].length, MAX_MARK_REASON_CHARS);
  t.ok(mark.reason!.endsWith('…'));
  t.notOk(mark.reason!.includes('\ufffd'));
});

t.test('a mark that is not well formed reads as none', async (t) => {
  for (const raw of [undefined, '', 'x', '{}', '{"relayMark":"delivered"}', '{"relayMark":{"state":"sent","at":1}}', '{"relayMark":{"state":"delivered"}}'])
    t.equal(readRelayMark(raw), undefined, String(raw));
});
