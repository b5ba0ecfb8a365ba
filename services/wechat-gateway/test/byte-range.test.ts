import { byteRange } from '@wxim/wechat-gateway';
import t from 'tap';

t.test('one byte range of a body, clipped to it; the whole body when the header asks for nothing this serves', async (t) => {
  t.same(byteRange('bytes=0-1', 100), { start: 0, end: 1 }, "a player's probe");
  t.same(byteRange('bytes=10-', 100), { start: 10, end: 99 }, 'to the end');
  t.same(byteRange('bytes=90-200', 100), { start: 90, end: 99 }, 'clipped to the end');
  t.same(byteRange('bytes=-10', 100), { start: 90, end: 99 }, 'the last ten');
  t.same(byteRange('bytes=-500', 100), { start: 0, end: 99 }, 'more than there is: all');
  t.equal(byteRange('bytes=100-', 100), 'unsatisfiable', 'from past the end');
  t.equal(byteRange('bytes=-0', 100), 'unsatisfiable', 'the last none');
  for (const whole of [undefined, '', 'bytes=5-1', 'bytes=0-1,5-6', 'items=0-1', 'bytes=-', 'bytes=a-b'])
    t.equal(byteRange(whole, 100), undefined, `${whole}: the whole body`);
});
