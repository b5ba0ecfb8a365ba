import { readRelayMark, textElem } from '@wxim/im';
import { replyJobId } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { eventually, metricValue, twoWayForTests } from '@wxim/testkit';
import { Redis } from 'ioredis';
import t from 'tap';

// Replies are not confirmed in IM's history here (CALLBACK_VERIFY=off): each job holds the
// CloudCustomData the callback gave, as the release before's jobs did; no sweeps.
const relay = await twoWayForTests(t, { env: { CALLBACK_SWEEP_MS: '0', CALLBACK_VERIFY: 'off', LOG_LEVEL: 'silent' } });
const { im, wechatApi } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const keys = stateKeys(relay.env['QUEUE_PREFIX']!);

const pusherMetric = async (series: string) => (await metricValue(relay.pusher.app, series)) ?? 0;
const marked = () => pusherMetric('wxim_pusher_delivery_marks_total{state="delivered",outcome="marked"}');
const leftAlone = () => pusherMetric('wxim_pusher_delivery_marks_total{state="delivered",outcome="left_alone"}');
const stateOf = (msgKey: string) => readRelayMark(im.messages.find((m) => m.msgKey === msgKey)?.cloudCustomData)?.state;

t.test('replies go on at full pace while IM answers their marks slowly; the marks come after', async (t) => {
  const SLOW_MS = 3000; // under the IM client's 5 s timeout: each mark is answered, late
  const customers = [await relay.newCustomer(), await relay.newCustomer(), await relay.newCustomer()];
  const before = await marked();
  // Every mark is written at once by IM, and answered 3 s later: a reply that waited for its
  // mark would hold its customer's next reply that long.
  im.answerLate('openim/modify_c2c_msg', SLOW_MS, 100);
  const started = Date.now();
  const sent: { openid: string; msgKey: string; text: string }[] = [];
  // Five each, the most a customer's message allows; one customer's replies after another's in turn.
  for (let i = 1; i <= 5; i++)
    for (const c of customers) {
      const text = `reply ${i}`;
      sent.push({ openid: c.openid, text, msgKey: (await im.agentSend(c.agent, c.userId, [textElem(text)])).msgKey });
    }
  await eventually('every reply delivered', () => customers.every((c) => wechatApi.sentTo(c.openid).length === 5), SLOW_MS, 20);
  const took = Date.now() - started;
  t.ok(took < SLOW_MS, `all 15 delivered in ${took} ms, before IM answered a single mark`);
  t.equal(await marked(), before, 'no mark answered yet: they wait beside the replies');
  for (const c of customers) t.same(relay.textsTo(c.openid), ['reply 1', 'reply 2', 'reply 3', 'reply 4', 'reply 5'], 'each customer’s in order, once each');

  await eventually('every mark answered', async () => (await marked()) === before + sent.length, 3 * SLOW_MS, 100);
  t.same(
    sent.filter((s) => stateOf(s.msgKey) !== 'delivered').map((s) => s.text),
    [],
    'each reply marked delivered',
  );
  // Each job's end removed its progress before IM answered its mark: the answer brings none back.
  const kept = await Promise.all(sent.map((s) => redis.exists(keys.replyProgress(replyJobId(s.msgKey)))));
  t.same(
    kept,
    sent.map(() => 0),
    'no reply keeps a progress hash once it is done and marked',
  );
});

t.test("a reply stored by the release before (no CloudCustomData in its job) is delivered but not marked: the client's data is not erased", async (t) => {
  const c = await relay.newCustomer();
  const quote = JSON.stringify({ messageReply: { messageID: 'm-1', messageAbstract: 'earlier', version: 1 } });
  const before = await leftAlone();
  await relay.pusher.worker.pause();
  const s = await im.agentSend(c.agent, c.userId, [textElem('quoting you')], { cloudCustomData: quote });
  const job = await relay.pusher.queue.getJob(replyJobId(s.msgKey));
  t.ok(job, 'stored');
  t.equal(job!.data.cloudCustomData, quote, "this release keeps the client's data in the job");
  // As the release before stored it.
  const { cloudCustomData: _, ...old } = job!.data;
  await job!.updateData(old);
  await relay.pusher.worker.resume();
  await relay.waitForSent(c.openid, 1);
  await eventually('counted as left alone', async () => (await leftAlone()) === before + 1);
  t.equal(im.messages.find((m) => m.msgKey === s.msgKey)!.cloudCustomData, quote, 'as the client wrote it');
  t.same(
    im.modifications.filter((m) => m.msgKey === s.msgKey),
    [],
    'no modify call',
  );
});

t.test("a reply whose callback carries no CloudCustomData is stored with '' and marked", async (t) => {
  const c = await relay.newCustomer();
  await relay.pusher.worker.pause();
  const s = await im.agentSend(c.agent, c.userId, [textElem('plain')]);
  t.equal((await relay.pusher.queue.getJob(replyJobId(s.msgKey)))!.data.cloudCustomData, '', 'known to be empty');
  await relay.pusher.worker.resume();
  await eventually('marked delivered', () => stateOf(s.msgKey) === 'delivered');
  t.same(JSON.parse(im.messages.find((m) => m.msgKey === s.msgKey)!.cloudCustomData!), {
    relayMark: { state: 'delivered', at: readRelayMark(im.messages.find((m) => m.msgKey === s.msgKey)!.cloudCustomData)!.at },
  });
});
