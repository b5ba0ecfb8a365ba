import t from 'tap';
import { markReason, noticeText } from '../src/notice.js';

const busy = { kind: 'gave_up', reason: 'it could not be delivered after 60 attempts (system busy)' } as const;

t.test('a notice says which part of a reply in several did not arrive, and what became of the others', async (t) => {
  t.equal(
    noticeText('hello', busy),
    '⚠ Relay notice — your reply “hello” was not delivered: it could not be delivered after 60 attempts (system busy).',
    'a reply in one part',
  );
  t.equal(noticeText('hello', busy, { index: 0, of: 3 }), noticeText('hello', busy), 'its first part did not arrive: none of it did');
  t.equal(
    noticeText('hello', busy, { index: 1, of: 3 }),
    '⚠ Relay notice — your reply “hello”, part 2 of 3 (the parts before it were delivered; the part after it was not sent), was not delivered: it could not be delivered after 60 attempts (system busy).',
  );
  t.match(
    noticeText('hello', { kind: 'uncertain' }, { index: 1, of: 4 }),
    /, part 2 of 4 \(the parts before it were delivered; the 2 parts after it were not sent\), may not have been delivered: /,
  );
  t.equal(
    noticeText('hello', { kind: 'uncertain' }, { index: 0, of: 3 }),
    '⚠ Relay notice — your reply “hello”, part 1 of 3 (the 2 parts after it were not sent), may not have been delivered: WeChat did not answer in time, so it may or may not have arrived; check with the customer before sending it again.',
    'its first part unanswered: it may have arrived, and the customer who has it must not be taken to have the rest',
  );
  t.equal(markReason({ kind: 'uncertain' }, { index: 0, of: 2 }), `part 1 of 2 (the part after it was not sent): ${markReason({ kind: 'uncertain' })}`);
  t.equal(noticeText('hello', { kind: 'uncertain' }, { index: 0, of: 1 }), noticeText('hello', { kind: 'uncertain' }), 'a reply in one part names none');
  t.match(noticeText('hello', busy, { index: 2, of: 3 }), /, part 3 of 3 \(the parts before it were delivered\), was not delivered/, 'the last part');
  t.equal(markReason(busy, { index: 1, of: 2 }), 'part 2 of 2 (the parts before it were delivered): it could not be delivered after 60 attempts (system busy)');
  t.equal(markReason(busy), busy.reason);
});
