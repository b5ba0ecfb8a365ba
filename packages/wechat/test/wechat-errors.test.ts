import {
  WechatCredentialError,
  WechatPermanentError,
  WechatRateLimitedError,
  WechatTransientError,
  WechatUncertainError,
  classifyWechatError,
  reasonOf,
} from '@wxim/wechat';
import t from 'tap';

t.test('WeChat errcodes fall into the classes of docs/wechat.md', async (t) => {
  const cases: [number, unknown][] = [
    [-1, WechatTransientError],
    [45009, WechatRateLimitedError],
    [45011, WechatRateLimitedError],
    [40001, WechatCredentialError],
    [40014, WechatCredentialError],
    [42001, WechatCredentialError],
    [40013, WechatCredentialError],
    [40125, WechatCredentialError],
    [40164, WechatCredentialError],
    [41002, WechatCredentialError],
    [41004, WechatCredentialError],
    [45015, WechatPermanentError],
    [45047, WechatPermanentError],
    [43004, WechatPermanentError],
    [40003, WechatPermanentError],
    [43019, WechatPermanentError],
    [48001, WechatPermanentError],
    [45002, WechatPermanentError],
    [40007, WechatPermanentError],
    [40004, WechatPermanentError],
    [40005, WechatPermanentError],
    [40006, WechatPermanentError],
    [40009, WechatPermanentError],
    [45001, WechatPermanentError],
    [99999, WechatPermanentError],
  ];
  for (const [code, cls] of cases) t.type(classifyWechatError('message/custom/send', code, 'x'), cls as never, String(code));
});

t.test('only an invalid or expired token is renewable; a wrong AppID, AppSecret or IP is configuration', async (t) => {
  for (const code of [40001, 40014, 42001]) t.ok((classifyWechatError('message/custom/send', code, '') as WechatCredentialError).renewable, String(code));
  for (const code of [40013, 40125, 40164, 41002, 41004])
    t.notOk((classifyWechatError('stable_token', code, '') as WechatCredentialError).renewable, String(code));
});

t.test('a frequency limit waits a minute, the daily limit until midnight in China', async (t) => {
  t.equal((classifyWechatError('stable_token', 45011, '') as WechatRateLimitedError).retryAfterMs, 60_000);
  const daily = (classifyWechatError('stable_token', 45009, '') as WechatRateLimitedError).retryAfterMs;
  t.ok(daily > 0 && daily <= 24 * 3_600_000, `${daily} ms`);
  const chinaNow = new Date(Date.now() + 8 * 3_600_000);
  const untilMidnight = Date.UTC(chinaNow.getUTCFullYear(), chinaNow.getUTCMonth(), chinaNow.getUTCDate() + 1) - chinaNow.getTime();
  t.ok(Math.abs(daily - untilMidnight) < 1000, 'the next 00:00 UTC+8');
});

t.test('a send that may have been delivered is not idempotent; an upload is', async (t) => {
  t.notOk(new WechatUncertainError('message/custom/send', 0, 'no answer').idempotent);
  t.ok(new WechatUncertainError('media/upload', 0, 'no answer').idempotent);
});

t.test('messages name the API and code, cut long errmsgs and never show a token or secret', async (t) => {
  t.equal(
    classifyWechatError('message/custom/send', 45015, 'response out of time limit').message,
    'WeChat message/custom/send failed: 45015 response out of time limit',
  );
  t.equal(new WechatTransientError('stable_token', 0, 'request not sent: ECONNREFUSED').message, 'WeChat stable_token failed: request not sent: ECONNREFUSED');
  const long = classifyWechatError('message/custom/send', 40003, 'x'.repeat(5000));
  t.ok(long.message.length < 260, `${long.message.length} characters`);
  const leaky = classifyWechatError('token', 40125, 'see https://api.weixin.qq.com/cgi-bin/token?appid=wx1&secret=s3cr3t&access_token=AT_123 hint');
  t.notMatch(leaky.message, /s3cr3t|AT_123/);
  t.notMatch(JSON.stringify(leaky), /s3cr3t|AT_123/);
});

t.test('every refusal an agent may see has a reason in plain words', async (t) => {
  t.match(reasonOf(45015), /48-hour window has closed/);
  t.match(reasonOf(45015), /unfollowed/);
  t.match(reasonOf(45047), /quota for this window is used up/);
  t.match(reasonOf(43019), /blocked the account/);
  t.match(reasonOf(45002), /too long/);
  t.match(reasonOf(40009), /too large or in a format/);
  t.match(reasonOf(45001), /too large/);
  t.match(reasonOf(43004), /does not follow/);
  t.match(reasonOf(12345), /errcode 12345/);
});
