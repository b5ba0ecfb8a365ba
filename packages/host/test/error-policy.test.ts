import { ImRateLimitedError } from '@wxim/im';
import { decide } from '@wxim/host';
import { QUOTA_LOOK_AGAIN_MS, QUOTA_SPREAD, WechatRateLimitedError } from '@wxim/wechat';
import t from 'tap';

t.test("a WeChat API's daily quota used up holds only its job, at most for the client's look again", async (t) => {
  // As the client holds the API: the rest of its hold.
  t.same(decide(new WechatRateLimitedError('message/custom/send', 45009, 'held', 1234)), { action: 'wait', class: 'daily_quota', ms: 1234 });
  // Straight from WeChat with no hold of the client's (an access_token fetch): not to midnight, hours away.
  const fromWechat = decide(new WechatRateLimitedError('stable_token', 45009, 'reach max api daily quota limit'));
  t.equal(fromWechat.action, 'wait');
  t.ok(fromWechat.action === 'wait' && fromWechat.ms > 0 && fromWechat.ms <= QUOTA_LOOK_AGAIN_MS * (1 + QUOTA_SPREAD), 'at most 5 minutes and its spread');
  // A refusal at the hold's start, whose wait ends late in the spread: kept whole, not cut to the look again.
  const spread = QUOTA_LOOK_AGAIN_MS + 0.9 * QUOTA_SPREAD * QUOTA_LOOK_AGAIN_MS;
  t.same(
    decide(new WechatRateLimitedError('message/custom/send', 45009, 'held', spread)),
    { action: 'wait', class: 'daily_quota', ms: spread },
    'its spread kept',
  );
});

t.test("BullMQ's word that the job's lock is no longer this worker's gives the job up, as a lock lost", async (t) => {
  t.same(decide(new Error('Missing lock for job r-1. moveToDelayed')), { action: 'give_up', class: 'lock_lost' });
  t.same(decide(new Error('Lock mismatch for job r-1. Cmd moveToFinished from active')), { action: 'give_up', class: 'lock_lost' });
  t.same(decide(new Error('something else for job r-1')), { action: 'retry', class: 'internal' });
});

t.test('too many calls this minute still holds the whole queue back', async (t) => {
  t.same(decide(new WechatRateLimitedError('message/custom/send', 45011, 'api freq out of limit')), { action: 'slow_down', class: 'rate_limited', ms: 60_000 });
  t.equal(decide(new ImRateLimitedError('openim/sendmsg', 20039, 'too many')).action, 'slow_down');
});

t.test("a service's own error names its class, and may have its job wait instead of spending an attempt", async (t) => {
  t.same(decide(Object.assign(new Error('ffmpeg killed'), { retryClass: 'transcode' })), { action: 'retry', class: 'transcode' });
  t.same(decide(Object.assign(new Error('minute limit'), { retryClass: 'rate_limited', waitMs: 1500 })), { action: 'wait', class: 'rate_limited', ms: 1500 });
});
