import t from 'tap';
import { planReply, quoteOf } from '../src/reply-plan.js';

const text = (Text: string) => ({ MsgType: 'TIMTextElem', MsgContent: { Text } });
const face = (Index: number, Data: string) => ({ MsgType: 'TIMFaceElem', MsgContent: { Index, Data } });
const image = (ImageFormat: number, infos: { Type: number; Size: number; URL: string }[]) => ({
  MsgType: 'TIMImageElem',
  MsgContent: { UUID: 'u1', ImageFormat, ImageInfoArray: infos.map((i) => ({ Width: 100, Height: 100, ...i })) },
});
const sound = (Url: string, Second: number, Size: number) => ({ MsgType: 'TIMSoundElem', MsgContent: { Url, UUID: 's1', Second, Size, Download_Flag: 2 } });
const video = (VideoUrl: string, VideoFormat: string, VideoSize: number) => ({
  MsgType: 'TIMVideoFileElem',
  MsgContent: {
    VideoUrl,
    VideoUUID: 'v1',
    VideoSize,
    VideoSecond: 75,
    VideoFormat,
    VideoDownloadFlag: 2,
    ThumbUrl: 'https://cos.example.com/thumb',
    ThumbFormat: 'JPG',
  },
});
const MB = 1024 * 1024;

t.test('text, stickers and a file next to each other become one text, in order; media go alone', async (t) => {
  const plan = planReply([
    text('Hello '),
    face(0, '[TUIEmoji_Smile]'),
    text(' here is the manual'),
    { MsgType: 'TIMFileElem', MsgContent: { Url: 'https://cos.example.com/m.pdf', UUID: 'f', FileSize: 1572864, FileName: 'manual.pdf', Download_Flag: 2 } },
    image(1, [{ Type: 1, Size: 200_000, URL: 'https://cos.example.com/a.jpg' }]),
    text('and where we are'),
    { MsgType: 'TIMLocationElem', MsgContent: { Desc: 'Shop 3', Latitude: 22.54, Longitude: 114.06 } },
  ]);
  t.same(plan, [
    { kind: 'text', content: 'Hello [TUIEmoji_Smile] here is the manual\n📎 manual.pdf (1.5 MB): https://cos.example.com/m.pdf' },
    { kind: 'image', url: 'https://cos.example.com/a.jpg', format: 'jpg', bytes: 200_000, fallback: '🖼 Image: https://cos.example.com/a.jpg' },
    { kind: 'text', content: 'and where we are\n📍 Shop 3 (22.54, 114.06)' },
  ]);
});

t.test('an image goes as its original when WeChat takes it, else as its large version, else as a link', async (t) => {
  const infos = (original: number, large: number) => [
    { Type: 3, Size: 9_000, URL: 'https://cos.example.com/t' },
    { Type: 2, Size: large, URL: 'https://cos.example.com/l' },
    { Type: 1, Size: original, URL: 'https://cos.example.com/o' },
  ];
  t.match(planReply([image(3, infos(MB, 100_000))]), [{ kind: 'image', url: 'https://cos.example.com/o', format: 'png' }]);
  t.match(planReply([image(1, infos(5 * MB, 400_000))]), [{ kind: 'image', url: 'https://cos.example.com/l' }], 'a 5 MB original: the large one, within 2 MB');
  t.match(
    planReply([image(1, infos(5 * MB, 3 * MB))]),
    [{ kind: 'image', url: 'https://cos.example.com/o' }],
    'nothing within 2 MB: the original, within 10 MB',
  );
  t.same(planReply([image(1, infos(30 * MB, 12 * MB))]), [{ kind: 'text', content: '🖼 Image: https://cos.example.com/o' }]);
  t.same(planReply([image(4, infos(MB, MB))]), [{ kind: 'text', content: '🖼 Image: https://cos.example.com/o' }], 'BMP, which WeChat does not take');
  t.match(planReply([image(255, [{ Type: 1, Size: 0, URL: 'https://cos.example.com/x.gif?sign=1' }])]), [{ kind: 'image', format: 'gif', bytes: 0 }]);
  t.same(planReply([image(1, [])]), [{ kind: 'text', content: '[image]' }]);
});

t.test('a voice recording goes as voice only as AMR or MP3 within 60 s and 2 MB, else as a link', async (t) => {
  t.same(planReply([sound('https://cos.example.com/v.amr', 12, 20_000)]), [
    {
      kind: 'voice',
      url: 'https://cos.example.com/v.amr',
      format: 'amr',
      seconds: 12,
      bytes: 20_000,
      fallback: '🔊 Voice message (12 s): https://cos.example.com/v.amr',
    },
  ]);
  t.match(planReply([sound('https://cos.example.com/v.mp3', 59, MB)]), [{ kind: 'voice', format: 'mp3' }]);
  t.same(planReply([sound('https://cos.example.com/v.mp3', 61, 100_000)]), [
    { kind: 'text', content: '🔊 Voice message (1:01): https://cos.example.com/v.mp3' },
  ]);
  t.same(planReply([sound('https://cos.example.com/v.mp3', 30, 3 * MB)]), [
    { kind: 'text', content: '🔊 Voice message (30 s): https://cos.example.com/v.mp3' },
  ]);
  t.same(
    planReply([sound('https://cos.example.com/abcd/f7c6', 5, 9_000)]),
    [{ kind: 'text', content: '🔊 Voice message (5 s): https://cos.example.com/abcd/f7c6' }],
    "IM's own AAC",
  );
  t.same(
    planReply([{ MsgType: 'TIMSoundElem', MsgContent: { UUID: 'old', Second: 3 } }]),
    [{ kind: 'text', content: '[voice message (3 s)]' }],
    'an old SDK sent no Url',
  );
});

t.test('a video goes as video when MP4 within 10 MB, with its thumbnail; else as a link', async (t) => {
  t.same(planReply([video('https://cos.example.com/v', 'mp4', 4 * MB)]), [
    {
      kind: 'video',
      url: 'https://cos.example.com/v',
      format: 'mp4',
      seconds: 75,
      bytes: 4 * MB,
      thumbUrl: 'https://cos.example.com/thumb',
      fallback: '🎬 Video (1:15): https://cos.example.com/v',
    },
  ]);
  t.same(planReply([video('https://cos.example.com/v', 'mp4', 11 * MB)]), [{ kind: 'text', content: '🎬 Video (1:15): https://cos.example.com/v' }]);
  t.same(planReply([video('https://cos.example.com/v.mov', 'mov', MB)]), [{ kind: 'text', content: '🎬 Video (1:15): https://cos.example.com/v.mov' }]);
});

t.test('stickers, custom elements and unknown kinds become short notes', async (t) => {
  t.same(planReply([face(3, '')]), [{ kind: 'text', content: '[sticker 3]' }]);
  t.same(planReply([face(-1, '')]), [{ kind: 'text', content: '[sticker]' }]);
  t.same(planReply([face(1, 'yz00')]), [{ kind: 'text', content: '[sticker yz00]' }]);
  const custom = (Data: string, Desc = '') => ({ MsgType: 'TIMCustomElem', MsgContent: { Data, Desc, Ext: '', Sound: '' } });
  t.same(planReply([custom(JSON.stringify({ businessID: 'text_link', text: 'Track your order', link: 'https://shop.example.com/o/1' }))]), [
    { kind: 'text', content: 'Track your order https://shop.example.com/o/1' },
  ]);
  t.same(planReply([custom('{"businessID":"order"}', 'Order #12 shipped')]), [{ kind: 'text', content: 'Order #12 shipped' }]);
  t.same(planReply([custom('plain words')]), [{ kind: 'text', content: 'plain words' }]);
  t.same(planReply([custom('{"businessID":"card"}')]), [{ kind: 'text', content: '[a message WeChat cannot show]' }]);
  t.same(planReply([{ MsgType: 'TIMRelayElem', MsgContent: { Title: 'chat history' } }]), [{ kind: 'text', content: '[a message WeChat cannot show]' }]);
});

t.test('a malformed body never throws: what cannot be read becomes a note or is dropped', async (t) => {
  t.same(planReply(null as unknown as unknown[]), []);
  t.same(planReply([]), []);
  t.same(planReply([text('   ')]), [], 'whitespace alone sends nothing');
  t.same(planReply([null, 42, 'x', { MsgType: 'TIMTextElem' }, { MsgType: 'TIMTextElem', MsgContent: { Text: 7 } }]), [
    { kind: 'text', content: '[a message WeChat cannot show]\n[a message WeChat cannot show]\n[a message WeChat cannot show]' },
  ]);
  t.same(planReply([{ MsgType: 'TIMImageElem', MsgContent: { ImageInfoArray: [{ Type: 1, URL: 'javascript:alert(1)' }, 'x'] } }]), [
    { kind: 'text', content: '[image]' },
  ]);
  t.same(planReply([{ MsgType: 'TIMFileElem', MsgContent: { Url: 'file:///etc/passwd', FileName: 'passwd' } }]), [{ kind: 'text', content: '📎 passwd' }]);
  t.same(planReply([{ MsgType: 'TIMLocationElem', MsgContent: { Latitude: 'north' } }]), [{ kind: 'text', content: '📍 [location]' }]);
});

t.test('a quote is the start of the reply in plain words, cut with an ellipsis', async (t) => {
  t.equal(quoteOf([text('Your   order\nhas shipped')]), 'Your order has shipped');
  t.equal(quoteOf([image(1, [{ Type: 1, Size: 1, URL: 'https://cos.example.com/a.jpg' }]), text('see above')]), '[image] see above');
  t.equal(quoteOf([text('a'.repeat(50))], 10), `${'a'.repeat(9)}…`);
  t.equal(quoteOf([text('😀'.repeat(5))], 3), '😀😀…', 'cut between characters, never inside one');
  t.equal(quoteOf([]), '');
});
