import { type CustomMessage, closeNumber, parseMessage, ratingOptionId, ratingQuestion, readRatingOption } from '@wxim/wechat';
import t from 'tap';

/** A tap on a menu option as WeChat pushes it: a text of the option's content, its id in bizmsgmenuid. */
const tap = (content: string, menuId: string) =>
  parseMessage(
    `<xml><ToUserName><![CDATA[gh_abcdef123456]]></ToUserName><FromUserName><![CDATA[oUaUm5kQh9bPq-_Z0Aq1yTQ2aBcD]]></FromUserName>` +
      `<CreateTime>1732867200</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${content}]]></Content>` +
      `<MsgId>24601234567890123456</MsgId><bizmsgmenuid>${menuId}</bizmsgmenuid></xml>`,
  );

t.test('the rating question is a menu message: the text, then the scores 1 to 5, each id naming the close and the score', async (t) => {
  const close = closeNumber(42);
  t.equal(close, '00000042');
  const question: CustomMessage = ratingQuestion('oUaUm5kQh9bPq-_Z0Aq1yTQ2aBcD', 'How did we do?', close);
  t.same(question, {
    touser: 'oUaUm5kQh9bPq-_Z0Aq1yTQ2aBcD',
    msgtype: 'msgmenu',
    msgmenu: {
      head_content: 'How did we do?',
      list: [
        { id: '1000000421', content: '1' },
        { id: '1000000422', content: '2' },
        { id: '1000000423', content: '3' },
        { id: '1000000424', content: '4' },
        { id: '1000000425', content: '5' },
      ],
      tail_content: '',
    },
  });
  for (const option of question.msgtype === 'msgmenu' ? question.msgmenu.list : [])
    t.ok(/^\d{10}$/.test(option.id) && Number(option.id) < 2 ** 31, `${option.id}: ten digits, a 32-bit integer`);
});

t.test('close numbers come round after 10^8 closes and stay 8 digits', async (t) => {
  t.equal(closeNumber(100_000_007), '00000007');
  t.equal(closeNumber(99_999_999), '99999999');
  t.throws(() => closeNumber(-1));
  t.throws(() => ratingOptionId('123', 1));
});

t.test('a tap on a rating option parses as the answer: which close, which score', async (t) => {
  t.same(tap('4', ratingOptionId('00000042', 4)), {
    kind: 'rating',
    toUserName: 'gh_abcdef123456',
    fromUserName: 'oUaUm5kQh9bPq-_Z0Aq1yTQ2aBcD',
    createTime: 1732867200,
    msgId: '24601234567890123456',
    content: '4',
    close: '00000042',
    score: 4,
  });
  t.match(tap('1', ' 1999999991 '), { kind: 'rating', close: '99999999', score: 1 }, 'whitespace around the id');
});

t.test('a tap on any other menu option is an ordinary text that keeps its id', async (t) => {
  for (const id of ['101', '0', '1000000426', '1000000420', '2000000421', '10000004211', 'csat:1', '１000000421']) {
    const message = tap('Yes', id);
    t.equal(message.kind, 'text', id);
    t.equal(message.kind === 'text' ? message.menuId : undefined, id, `${id} kept`);
    t.equal(readRatingOption(id), undefined);
  }
  t.notOk('menuId' in tap('hello', ''), 'an empty bizmsgmenuid is a plain text');
});
