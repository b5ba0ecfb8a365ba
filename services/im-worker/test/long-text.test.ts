import t from 'tap';
import { textElem, soundElem } from '@wxim/im';
import { IM_PART_BYTES, partsOf } from '../src/long-text.js';

const textOf = (part: ReturnType<typeof partsOf>[number]) =>
  part
    .filter((e) => e.MsgType === 'TIMTextElem')
    .map((e) => String(e.MsgContent.Text))
    .join('');

t.test('a body that fits goes whole', async (t) => {
  const body = [textElem('hello')];
  t.same(partsOf(body), [body]);
});

t.test('a long text goes in parts that each fit, whole characters, nothing lost or added', async (t) => {
  const text = '我想退货，因为收到的商品有问题。'.repeat(250) + '🙂'.repeat(900); // ~12 KB of CJK, then 3.6 KB of 4-byte emoji
  const parts = partsOf([textElem(text)]);
  t.ok(parts.length >= 3, `${parts.length} parts`);
  for (const part of parts) t.ok(Buffer.byteLength(JSON.stringify(part)) <= IM_PART_BYTES + 64, 'each fits with its element around it');
  t.equal(parts.map(textOf).join(''), text, 'joined again, the text as it came');
  t.ok(
    parts.map(textOf).every((p) => Buffer.from(p, 'utf8').toString('utf8') === p),
    'no character cut in two (a lone half of a surrogate pair does not survive UTF-8)',
  );
});

t.test('a cut falls at a line end near the limit when there is one', async (t) => {
  const line = 'x'.repeat(99) + '\n';
  const parts = partsOf([textElem(line.repeat(100))], 1000);
  t.ok(
    parts.slice(0, -1).every((p) => textOf(p).endsWith('\n')),
    'each part but the last ends a line',
  );
  t.equal(parts.map(textOf).join(''), line.repeat(100));
});

t.test('other elements stay with the first part', async (t) => {
  const sound = soundElem('https://relay.example/media/x', 'x', 100, 2);
  const parts = partsOf([sound, textElem('[voice] ' + '好'.repeat(3000))]);
  t.ok(parts.length >= 2);
  t.same(parts[0]![0], sound);
  t.ok(parts.slice(1).every((p) => p.every((e) => e.MsgType === 'TIMTextElem')));
});
