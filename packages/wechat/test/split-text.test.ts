import { CUSTOM_TEXT_LIMIT_BYTES, splitText } from '@wxim/wechat';
import t, { type Test } from 'tap';

const bytes = (s: string) => Buffer.byteLength(s);
/** A lone surrogate turns into U+FFFD in UTF-8: a part must survive the round trip. */
const wellFormed = (s: string) => Buffer.from(s, 'utf8').toString('utf8') === s;

function checkParts(t: Test, parts: string[], limit: number) {
  for (const p of parts) {
    t.ok(bytes(p) <= limit, `${bytes(p)} bytes <= ${limit}`);
    t.ok(p.length > 0, 'no empty part');
    t.ok(wellFormed(p), 'no broken character');
  }
}

t.test('a text within the limit is one part; an empty text none', async (t) => {
  t.same(splitText('hello'), ['hello']);
  t.same(splitText(''), []);
  t.equal(CUSTOM_TEXT_LIMIT_BYTES, 2048);
});

t.test('a text of exactly the limit is one part; one byte more makes two', async (t) => {
  t.same(splitText('a'.repeat(2048)), ['a'.repeat(2048)]);
  t.same(splitText('a'.repeat(2049)), ['a'.repeat(2048), 'a']);
  const chinese = '中'.repeat(682) + 'ab'; // 2046 + 2 bytes
  t.same(splitText(chinese), [chinese]);
  t.same(splitText(chinese + 'c'), ['中'.repeat(682) + 'ab', 'c']);
});

t.test('parts break at the last newline, else the last space, and drop that character', async (t) => {
  t.same(splitText('first line\nsecond line', 16), ['first line', 'second line']);
  t.same(splitText('first line\r\nsecond line', 16), ['first line', 'second line'], 'CRLF goes whole');
  t.same(splitText('one two three four', 10), ['one two', 'three four']);
  t.same(splitText('para one.\nand a b c d', 20), ['para one.\nand a b c', 'd'], 'a space late in the part beats an early newline');
});

t.test('Chinese without spaces breaks after the end of a sentence, else anywhere between characters', async (t) => {
  const text = '你好。' + '我'.repeat(10);
  const parts = splitText(text, 21); // 7 characters of 3 bytes
  checkParts(t, parts, 21);
  t.same(parts, ['你好。我我我我', '我我我我我我'], 'no sentence end in the second half: as much as fits');
  t.same(splitText('我我我我。你你你你你', 18), ['我我我我。', '你你你你你']);
  t.equal(splitText('中'.repeat(1000), 100).join(''), '中'.repeat(1000), 'nothing lost');
});

t.test('an emoji (a surrogate pair) is never cut, nor an emoji sequence', async (t) => {
  const text = '😀'.repeat(100); // 4 bytes, 2 UTF-16 units each
  for (const limit of [4, 5, 6, 7, 9, 2048]) {
    const parts = splitText(text, limit);
    checkParts(t, parts, limit);
    t.equal(parts.join(''), text, `limit ${limit}: nothing lost`);
  }
  const family = '👨‍👩‍👧'; // 18 bytes: three emoji joined by ZWJs
  const parts = splitText(`ab${family}`, 19);
  t.same(parts, ['ab', family], 'the family stays one');
  const alone = splitText(family, 8);
  checkParts(t, alone, 8);
  t.equal(alone.join(''), family, 'a grapheme over the limit alone is cut between its code points');
});

t.test('a long mixed text: every part within the limit, nothing but break characters lost', async (t) => {
  const text = Array.from({ length: 400 }, (_, i) => `第${i}行 line ${i} 😀 ${'x'.repeat(i % 37)}`).join('\n');
  const parts = splitText(text);
  checkParts(t, parts, 2048);
  t.ok(parts.length > 1);
  t.equal(parts.join('\n'), text, 'each part ended at a newline here');
});

t.test('a limit below one character is refused', async (t) => {
  t.throws(() => splitText('abc', 3), RangeError);
});
