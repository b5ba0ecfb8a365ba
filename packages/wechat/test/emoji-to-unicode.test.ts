import { WECHAT_FACES, emojiToUnicode } from '@wxim/wechat';
import t from 'tap';

t.test('every face of the table turns into its emoji, by code and by each name in brackets', async (t) => {
  let forms = 0;
  for (const f of WECHAT_FACES) {
    const all = [...(f.code === undefined ? [] : [f.code]), ...[...f.en, ...f.zh].map((n) => `[${n}]`)];
    for (const form of all) {
      t.equal(emojiToUnicode(form), f.emoji, form);
      t.equal(emojiToUnicode(`a ${form} b`), `a ${f.emoji} b`, `${form} between words`);
      forms++;
    }
  }
  t.ok(WECHAT_FACES.filter((f) => f.code !== undefined).length >= 105, 'the 105 classic codes');
  t.ok(forms > 350, `${forms} forms`);
});

t.test('no code or name stands for two faces', async (t) => {
  const seen = new Map<string, string>();
  for (const f of WECHAT_FACES)
    for (const form of [...(f.code === undefined ? [] : [f.code]), ...[...f.en, ...f.zh].map((n) => `[${n}]`)]) {
      const before = seen.get(form);
      t.ok(before === undefined || before === f.emoji, `${form}: one emoji`);
      seen.set(form, f.emoji);
    }
});

t.test('the longest code wins where one code begins another', async (t) => {
  t.equal(emojiToUnicode("/::'("), '😭', 'Cry, not a shorter code and a bracket');
  t.equal(emojiToUnicode("/::'|"), '😥', 'TearingUp');
  t.equal(emojiToUnicode('/::-|'), '😬', 'Awkward, not Scowl');
  t.equal(emojiToUnicode('/::|'), '😳', 'Scowl');
  t.equal(emojiToUnicode('/::-O'), '🥱', 'Yawn, not Surprise');
  t.equal(emojiToUnicode('/::-S'), '🤬');
  t.equal(emojiToUnicode('/:,@-D'), '😊', 'Joyful, not Chuckle');
  t.equal(emojiToUnicode('/:,@@'), '😵', 'Dizzy, not Fist after a comma');
  t.equal(emojiToUnicode('/:basketb'), '🏀', 'not /:bad or /:b…');
  t.equal(emojiToUnicode('/:oY'), '🏳️');
  t.equal(emojiToUnicode('/:oo'), '🏓');
  t.equal(emojiToUnicode('/::D/::d'), '😁🙄', 'case tells two faces apart');
});

t.test('faces run together and with text around them, English and Chinese', async (t) => {
  t.equal(emojiToUnicode('/::)/::)/:rose'), '🙂🙂🌹');
  t.equal(emojiToUnicode('谢谢[微笑][玫瑰]'), '谢谢🙂🌹');
  t.equal(emojiToUnicode('Thanks[Smile] see you[Wave]!'), 'Thanks🙂 see you👋!');
  t.equal(emojiToUnicode('[Facepalm][捂脸][Yeah!][耶][OMG][Emm][Wow][哇][Smirk][奸笑][Concerned][皱眉][Hey][嘿哈]'), '🤦🤦✌️✌️🤯🤔🤩🤩😏😏😟😟😆😆');
  t.equal(emojiToUnicode('[發呆] [流淚]'), '😳 😢', 'traditional names');
  t.equal(emojiToUnicode('[Bah！L][TaiChi R][Nuh-uh][Aaagh!]'), '😤☯️🙅😠', 'names with punctuation and spaces');
});

t.test('what is not a face is left alone', async (t) => {
  t.equal(emojiToUnicode('hello'), 'hello');
  t.equal(emojiToUnicode(''), '');
  t.equal(emojiToUnicode('[something] [smile] [Smile'), '[something] [smile] [Smile', 'unknown, wrong case, unclosed');
  t.equal(emojiToUnicode('[[Smile]]'), '[🙂]');
  t.equal(emojiToUnicode('a/b/:c :) /:'), 'a/b/:c :) /:');
  t.equal(emojiToUnicode('order #123 [OK]?'), 'order #123 👌?');
});

t.test('codes inside a link stay; a face after it does not', async (t) => {
  t.equal(emojiToUnicode('see https://example.com/:v/x/:ok?q=/::) now /:ok'), 'see https://example.com/:v/x/:ok?q=/::) now 👌');
  t.equal(emojiToUnicode('http://a.cn/p[Smile]'), 'http://a.cn/p🙂');
});

t.test('a long text with many faces is fast', async (t) => {
  const text = 'hello /::) [Smile] 你好[微笑] https://example.com/a/:b '.repeat(2000);
  const started = process.hrtime.bigint();
  for (let i = 0; i < 10; i++) emojiToUnicode(text);
  const ms = Number(process.hrtime.bigint() - started) / 1e6 / 10;
  t.ok(ms < 50, `${ms.toFixed(2)} ms for ${text.length} characters`);
  t.equal(emojiToUnicode(text).match(/🙂/gu)?.length, 6000);
});
