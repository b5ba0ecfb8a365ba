import { DEFAULT_OFF_HOURS_TEXT, DEFAULT_WAITING_TEXT } from '@wxim/config';
import { fakeOpenId } from '@wxim/sandbox';
import t from 'tap';
import { AGENTS, eventually, startTestRedis, deskRelayForTests, startTwoWay, textOf } from '@wxim/testkit';

const redis = await startTestRedis();
t.teardown(() => redis.close());

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
/** Business hours that are closed now: one minute, two days from today (UTC). */
const closedNow = () => `${DAYS[(new Date().getUTCDay() + 2) % 7]} 10:00-10:01`;

t.test('while every agent is logged out a customer is told once that they wait, as the passive reply; the message waits', async (t) => {
  const relay = await deskRelayForTests(t, redis.url, { env: { AUTO_REPLY_EVERY: '1h' } });
  const { im, wechat, wechatApi } = relay;
  for (const agent of AGENTS) await im.agentLogout(agent);
  const openid = fakeOpenId();
  const first = await wechat.push(wechat.text(openid, 'hello?'));
  t.equal(first.status, 200);
  t.match(first.reply, `<Content><![CDATA[${DEFAULT_WAITING_TEXT}]]></Content>`, 'the waiting text, in the push’s answer');
  t.match(first.reply, `<ToUserName><![CDATA[${openid}]]></ToUserName>`);
  const second = await wechat.push(wechat.text(openid, 'anyone?'));
  t.equal(second.body, 'success', 'told once per AUTO_REPLY_EVERY');
  t.equal(wechatApi.sentTo(openid).length, 0, 'no customer-service message spent on it');
  t.equal(im.messagesBetween(openid).length, 0, 'the messages wait');
  await im.agentLogin(AGENTS[0]!);
  await eventually('both reach the agent who logs in', () => im.messagesBetween(openid).length === 2, 10_000);
  t.same(im.messagesBetween(openid).map(textOf), ['hello?', 'anyone?']);
  const later = await wechat.push(wechat.text(fakeOpenId(), 'hi'));
  t.equal(later.body, 'success', 'with an agent free, a new customer is told nothing');
});

t.test('outside business hours the customer is told so, and the message still reaches an agent online', async (t) => {
  const relay = await startTwoWay(redis.url, { env: { BUSINESS_HOURS: closedNow(), BUSINESS_TZ: 'UTC' } });
  t.teardown(() => relay.close());
  const { im, wechat } = relay;
  const openid = fakeOpenId();
  const res = await wechat.push(wechat.text(openid, 'are you open?'));
  t.match(res.reply, `<Content><![CDATA[${DEFAULT_OFF_HOURS_TEXT}]]></Content>`);
  await eventually('the message reaches an agent anyway', () => im.messagesBetween(openid).length === 1, 10_000);
  t.equal((await wechat.push(wechat.text(openid, 'hello'))).body, 'success', 'once per AUTO_REPLY_EVERY (12 h by default)');
  const follow = await wechat.push(wechat.follow(fakeOpenId()));
  t.match(follow.reply, /Hello, and thank you for following us/, 'a follow still gets the welcome');
});

t.test('empty texts turn the notices off', async (t) => {
  const relay = await startTwoWay(redis.url, { env: { BUSINESS_HOURS: closedNow(), BUSINESS_TZ: 'UTC', OFF_HOURS_TEXT: '' } });
  t.teardown(() => relay.close());
  const res = await relay.wechat.push(relay.wechat.text(fakeOpenId(), 'hello'));
  t.equal(res.body, 'success');
});
