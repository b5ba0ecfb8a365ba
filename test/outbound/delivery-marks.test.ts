import { ImClient, type RelayMark, UserSigCache, imageElem, readRelayMark, textElem } from '@wxim/im';
import { IM_APP_ID, IM_KEY, eventually, metricValue, twoWayForTests } from '@wxim/testkit';
import { Redis } from 'ioredis';
import t from 'tap';

// Sweeps every second, up to 300 ms ago, so a marked reply meets several sweeps; media only from
// a port nothing listens on, so an image from anywhere else is refused at once.
const relay = await twoWayForTests(t, {
  env: { CALLBACK_SWEEP_MS: '1000', MEDIA_ALLOWED_HOSTS: '127.0.0.1:1', LOG_LEVEL: process.env['DBG'] ? 'debug' : 'silent' },
  callback: { sweepSettleMs: 300 },
});
const { im, wechatApi } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const prefix = relay.env['QUEUE_PREFIX']!;

// The agents' history as IM's REST API shows it (admin_getroammsg), with the app admin's credentials.
const admin = relay.env['IM_ADMIN'] ?? 'administrator';
const client = new ImClient({ sdkAppId: IM_APP_ID, admin, userSig: new UserSigCache(IM_APP_ID, IM_KEY, admin), apiBase: relay.env['IM_API_BASE']! });
t.teardown(() => client.close());

async function shown(agent: string, userId: string, msgKey: string) {
  const now = Math.floor(Date.now() / 1000);
  for await (const page of client.history(agent, userId, now - 600, now + 1)) {
    const found = page.find((m) => m.MsgKey === msgKey);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The reply's mark once it is `state`, as IM's history shows it. */
async function markedAs(agent: string, userId: string, msgKey: string, state: RelayMark['state']): Promise<RelayMark> {
  let mark: RelayMark | undefined;
  await eventually(`the reply is marked ${state}`, async () => (mark = readRelayMark((await shown(agent, userId, msgKey))?.CloudCustomData))?.state === state);
  return mark!;
}

const marksOf = (msgKey: string) => im.modifications.filter((m) => m.msgKey === msgKey).map((m) => readRelayMark(m.cloudCustomData)?.state);
const noticesTo = (agent: string, userId: string) => im.messagesBetween(userId, agent).filter((m) => m.cloudCustomData?.includes('relay-notice'));
const pusherMetric = async (series: string) => (await metricValue(relay.pusher.app, series)) ?? 0;
const callbackMetric = async (series: string) => (await metricValue(relay.callback.app, series)) ?? 0;

t.test('each delivered reply is marked delivered on the agent’s own message, once, its body untouched', async (t) => {
  const c = await relay.newCustomer();
  const before = Date.now();
  const sent = [];
  for (const text of ['one', 'two', 'three']) sent.push(await im.agentSend(c.agent, c.userId, [textElem(text)]));
  await relay.waitForSent(c.openid, 3);
  for (const [i, s] of sent.entries()) {
    const mark = await markedAs(c.agent, c.userId, s.msgKey, 'delivered');
    t.ok(mark.at >= before && mark.at <= Date.now(), 'when it was known');
    t.equal(mark.reason, undefined, 'no reason for a delivery');
    t.same((await shown(c.agent, c.userId, s.msgKey))!.MsgBody, [textElem(['one', 'two', 'three'][i]!)], 'the body is as the agent wrote it');
    t.same(marksOf(s.msgKey), ['delivered'], 'a reply that went at once costs one IM call: no queued mark before it');
  }
  t.same(relay.textsTo(c.openid), ['one', 'two', 'three'], 'delivered once each, in order');
});

t.test("the agent client's own CloudCustomData keys are kept beside the mark", async (t) => {
  const c = await relay.newCustomer();
  const own = { messageReply: { messageID: 'm-1', messageAbstract: 'earlier', messageSender: c.userId, version: 1 }, messageReact: { '👍': [c.agent] } };
  const s = await im.agentSend(c.agent, c.userId, [textElem('with a quote')], { cloudCustomData: JSON.stringify(own) });
  await markedAs(c.agent, c.userId, s.msgKey, 'delivered');
  const data = JSON.parse((await shown(c.agent, c.userId, s.msgKey))!.CloudCustomData!) as Record<string, unknown>;
  t.same(data['messageReply'], own.messageReply);
  t.same(data['messageReact'], own.messageReact);
  t.same(Object.keys(data), ['messageReply', 'messageReact', 'relayMark']);
});

t.test("a client's CloudCustomData that is not a JSON object is left alone, and counted", async (t) => {
  const c = await relay.newCustomer();
  const before = await pusherMetric('wxim_pusher_delivery_marks_total{state="delivered",outcome="left_alone"}');
  const s = await im.agentSend(c.agent, c.userId, [textElem('plain data')], { cloudCustomData: 'client-tag-7' });
  await relay.waitForSent(c.openid, 1);
  await eventually(
    'counted as left alone',
    async () => (await pusherMetric('wxim_pusher_delivery_marks_total{state="delivered",outcome="left_alone"}')) === before + 1,
  );
  t.equal((await shown(c.agent, c.userId, s.msgKey))!.CloudCustomData, 'client-tag-7', 'as the client wrote it');
  t.same(marksOf(s.msgKey), [], 'no modify call');
});

t.test("a reply refused for a closed window is marked not delivered with the notice's reason, and the notice still sent", async (t) => {
  const c = await relay.newCustomer();
  await redis.hset(`${prefix}:reply-window:${c.openid}`, 'deadline', String(Date.now() - 1000)); // 48 hours later
  const s = await im.agentSend(c.agent, c.userId, [textElem('too late?')]);
  const mark = await markedAs(c.agent, c.userId, s.msgKey, 'not_delivered');
  t.match(mark.reason, /48-hour window has closed/);
  t.equal(noticesTo(c.agent, c.userId).length, 1, 'the notice is sent too');
  t.equal(wechatApi.sentTo(c.openid).length, 0);
});

t.test('a reply WeChat refuses (45015: the customer unfollowed) is marked not delivered with the reason', async (t) => {
  const c = await relay.newCustomer();
  wechatApi.customerUnfollowed(c.openid);
  const s = await im.agentSend(c.agent, c.userId, [textElem('are you there?')]);
  const mark = await markedAs(c.agent, c.userId, s.msgKey, 'not_delivered');
  t.match(mark.reason, /unfollowed/);
  t.match(String(noticesTo(c.agent, c.userId)[0]?.body[0]?.MsgContent['Text']), /are you there\?.*unfollowed/, 'the notice says the same');
});

t.test('a media reply that cannot be used is marked not delivered with the reason', async (t) => {
  const c = await relay.newCustomer();
  const s = await im.agentSend(c.agent, c.userId, [imageElem('uuid-9', 'http://10.1.2.3/internal.png')]);
  const mark = await markedAs(c.agent, c.userId, s.msgKey, 'not_delivered');
  t.match(mark.reason, /image could not be used/);
  t.equal(noticesTo(c.agent, c.userId).length, 1);
});

t.test('a reply that cannot go at once is marked queued while it waits for its retry, then delivered', async (t) => {
  const c = await relay.newCustomer();
  wechatApi.failNext('message/custom/send', -1, 2); // system busy, twice
  const s = await im.agentSend(c.agent, c.userId, [textElem('after a retry')]);
  await relay.waitForSent(c.openid, 1, 20_000);
  await markedAs(c.agent, c.userId, s.msgKey, 'delivered');
  t.same(marksOf(s.msgKey), ['queued', 'delivered'], 'queued once, however many retries, then delivered');
});

t.test('the sweep does not store a marked, delivered reply again', async (t) => {
  const c = await relay.newCustomer();
  const s = await im.agentSend(c.agent, c.userId, [textElem('swept past')]);
  await markedAs(c.agent, c.userId, s.msgKey, 'delivered');
  const swept = await callbackMetric('wxim_callback_sweeps_total{outcome="ok"}');
  const found = await callbackMetric('wxim_callback_recovered_total{via="sweep"}');
  await eventually('two more sweeps', async () => (await callbackMetric('wxim_callback_sweeps_total{outcome="ok"}')) >= swept + 2, 10_000, 100);
  t.equal(await callbackMetric('wxim_callback_recovered_total{via="sweep"}'), found, 'nothing found');
  t.same(relay.textsTo(c.openid), ['swept past'], 'delivered once');
  t.same(marksOf(s.msgKey), ['delivered'], 'marked once');
});

t.test(
  "a message already carrying a mark (a client's copy of a marked one) is still an agent's reply: confirmed in IM's history, delivered, marked",
  async (t) => {
    t.equal(relay.env['CALLBACK_VERIFY'] ?? 'history', 'history', 'confirmation on (the default)');
    const c = await relay.newCustomer();
    // Another state than the one it will get, so that waiting for `delivered` waits for the relay's mark.
    const copied = JSON.stringify({ relayMark: { state: 'not_delivered', at: 1, reason: 'copied' }, forwarded: true });
    const s = await im.agentSend(c.agent, c.userId, [textElem('forwarded')], { cloudCustomData: copied });
    await relay.waitForSent(c.openid, 1);
    const mark = await markedAs(c.agent, c.userId, s.msgKey, 'delivered');
    t.ok(mark.at > 1, 'marked anew');
    t.equal(mark.reason, undefined, "the copy's reason is gone");
    t.equal((JSON.parse((await shown(c.agent, c.userId, s.msgKey))!.CloudCustomData!) as { forwarded?: boolean }).forwarded, true);
    t.equal(noticesTo(c.agent, c.userId).length, 0);
  },
);
