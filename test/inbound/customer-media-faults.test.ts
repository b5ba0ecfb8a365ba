import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type InboundJob, QUEUES, queueLayout } from '@wxim/queue';
import { type ReceivedMessage, WechatApiSimulator, fakeOpenId } from '@wxim/sandbox';
import { HOLD_MARK, stateKeys } from '@wxim/state';
import { APP_ID, APP_SECRET, eventually, metricLines, metricValue, relayForTests, textOf } from '@wxim/testkit';
import { MEDIA_DECISION_KEPT_MS } from '@wxim/im-worker';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';

// What a customer's voice meets at WeChat and in ffmpeg must never hold their conversation (or
// anyone's) back, and every attempt of a job must build the same IM message.
const PUBLIC_URL = 'https://relay.example.test';
const SECRET = 'customer-media-faults-test-secret-0123456789';
const THREE_DAYS_S = 3 * 86400;
const MINUTE_WAIT_MS = 3000;

// An ffmpeg that converts only while `on` exists (its version check always answers): the test
// switches conversion off and on between two attempts of one job. While `crash` exists, the next
// conversion is killed (as the kernel kills a process when memory runs out), once.
const dir = mkdtempSync(join(tmpdir(), 'wxim-ffmpeg-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const on = join(dir, 'on');
const crash = join(dir, 'crash');
const ffmpeg = join(dir, 'ffmpeg');
writeFileSync(
  ffmpeg,
  `#!/bin/sh\ncase "$*" in *-version*) exec ffmpeg "$@";; esac\n[ -e '${crash}' ] && rm -f '${crash}' && kill -9 $$\n[ -e '${on}' ] && exec ffmpeg "$@"\necho 'conversion is off in this test' >&2\nexit 1\n`,
);
chmodSync(ffmpeg, 0o755);

const wechatApi = new WechatApiSimulator({ appId: APP_ID, secret: APP_SECRET });
const apiUrl = await wechatApi.listen();
t.teardown(() => wechatApi.close());
const relay = await relayForTests(t, {
  startWorker: false,
  env: { WECHAT_APP_SECRET: APP_SECRET, WECHAT_API_BASE: apiUrl, MEDIA_PUBLIC_URL: PUBLIC_URL, MEDIA_URL_SECRET: SECRET },
  // WeChat's minute (45011) waited out in 3 s here (time for another customer's message to go meanwhile on a loaded machine); the rule is the same.
  worker: { ffmpeg, mediaMinuteWaitMs: MINUTE_WAIT_MS },
});
const { wechat, im } = relay;
const prefix = relay.env['QUEUE_PREFIX']!;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());

/** Whether anything holds the whole inbound queue back (a "too many requests" from a platform). */
async function queueHeld(): Promise<boolean> {
  return Number(await redis.get(queueLayout(prefix, QUEUES.wechatInbound).limiter)) >= HOLD_MARK;
}

function mediaCalls(): number {
  return wechatApi.stats.calls['media/get'] ?? 0;
}

/** A worker of the test's own that takes jobs by hand (getNextJob), for the relay's worker to run as if twice. */
function byHand(t: Test): Worker<InboundJob> {
  const connection = new Redis(relay.redisUrl, { maxRetriesPerRequest: null });
  const worker = new Worker<InboundJob>(QUEUES.wechatInbound, undefined, { connection, prefix, autorun: false });
  t.teardown(async () => {
    await worker.close();
    connection.disconnect();
  });
  return worker;
}

async function conversation(openid: string, count: number): Promise<ReceivedMessage[]> {
  await eventually(`${count} messages of ${openid} reached IM`, () => im.messagesBetween(openid).length >= count, 15_000);
  return im.messagesBetween(openid);
}

t.test('a voice sent just before WeChat dropped its media, its answer lost, is sent again identical after: one IM message, no note', async (t) => {
  const openid = fakeOpenId();
  writeFileSync(on, ''); // conversion works in this test (the next one needs it off)
  t.teardown(() => rmSync(on, { force: true }));
  // WeChat keeps a customer's media 3 days from its CreateTime: this voice's has 6 s left (its first attempt fits in them on a loaded machine).
  const push = { ...wechat.voice(openid, { recognition: 'hello' }), createTime: Math.floor(Date.now() / 1000) - THREE_DAYS_S + 6 };
  t.equal((await wechat.push(push)).status, 200);
  const first = byHand(t);
  const job = await first.getNextJob('first-token');
  await relay.worker.runJob(job, 'first-token');
  const [sound] = im.messagesBetween(openid);
  const url = String(sound!.body.find((b) => b.MsgType === 'TIMSoundElem')?.MsgContent['Url']);
  t.ok(url.startsWith(`${PUBLIC_URL}/media/`), 'the sound went, in time');
  const expires = Number(url.slice(`${PUBLIC_URL}/media/`.length).split('.')[1]);
  await eventually('WeChat no longer holds the media', () => Date.now() >= expires * 1000, 10_000, 50);
  // As if IM's answer was lost and the worker died: the job runs again, within IM's duplicate window.
  await job.moveToWait('first-token');
  const again = await first.getNextJob('second-token');
  t.equal(again.id, job.id);
  const dropped = im.stats.duplicatesDropped;
  await relay.worker.runJob(again, 'second-token');
  t.equal(im.messagesBetween(openid).length, 1, 'still one message: no note beside the sound');
  t.equal(im.stats.duplicatesDropped, dropped + 1, 'the same sound again, which IM dropped');
  // Done by hand, and gone: the tests below count the queue's completed jobs.
  await again.moveToCompleted('done', 'second-token', false);
  await again.remove();
});

t.test('a retried job sends the note again, not the sound, once ffmpeg works: one IM message', async (t) => {
  const openid = fakeOpenId();
  t.equal((await wechat.push(wechat.voice(openid, { recognition: 'hello' }))).status, 200);
  const first = byHand(t);
  const job = await first.getNextJob('first-token');
  await relay.worker.runJob(job, 'first-token');
  const [note] = im.messagesBetween(openid);
  t.same(
    note!.body.map((b) => b.MsgType),
    ['TIMTextElem'],
    'ffmpeg failed: the note',
  );
  t.equal(textOf(note!), '[voice] hello');
  // As if the worker died before the job was recorded done; by the rerun, ffmpeg works.
  writeFileSync(on, '');
  await job.moveToWait('first-token');
  const dropped = im.stats.duplicatesDropped;
  relay.worker.start();
  await eventually('the rerun is done', async () => (await relay.gateway.gateway.queue.getCompletedCount()) === 1);
  t.equal(im.messagesBetween(openid).length, 1, 'still one message');
  t.equal(im.stats.duplicatesDropped, dropped + 1, 'the rerun sent the same note, which IM dropped');
});

t.test('ffmpeg killed mid-conversion (the machine, not the recording): the next attempt relays the sound, once', async (t) => {
  const openid = fakeOpenId();
  writeFileSync(on, '');
  writeFileSync(crash, '');
  await wechat.push(wechat.voice(openid, { recognition: 'say again' }));
  await wechat.push(wechat.text(openid, 'after the voice'));
  const [sound, next] = await conversation(openid, 2);
  t.equal(sound!.body[0]?.MsgType, 'TIMSoundElem', 'the recording, not the note');
  t.equal(textOf(next!), 'after the voice', 'the next message after it, in order');
  t.equal(im.messagesBetween(openid).length, 2, 'nothing else');
  t.notOk(existsSync(crash), 'the conversion was killed once');
  const metrics = (await relay.worker.app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /^wxim_im_retries_total\{class="transcode"\} 1$/m, 'the retry counted as the conversion’s');
  t.notMatch(metrics, /^wxim_im_retries_total\{class="internal"\}/m, 'not as a Redis or program error');
});

t.test('a setup error (40164, IP not whitelisted): the note at once', async (t) => {
  const openid = fakeOpenId();
  const calls = mediaCalls();
  wechatApi.failNext('media/get', 40164, 1, 'invalid ip, not in whitelist');
  await wechat.push(wechat.video(openid));
  await wechat.push(wechat.text(openid, 'did you get it?'));
  const [note, next] = await conversation(openid, 2);
  t.same(
    note!.body.map((b) => b.MsgType),
    ['TIMTextElem'],
  );
  t.equal(textOf(next!), 'did you get it?');
  t.equal(mediaCalls(), calls + 1, 'not retried');
  t.notOk(await queueHeld());
});

t.test('media/get busy (-1) every time: three attempts, then the note and the next message', async (t) => {
  const openid = fakeOpenId();
  const calls = mediaCalls();
  const busy = 'wxim_im_wechat_calls_total{api="media/get",outcome="-1"}';
  const busyBefore = (await metricValue(relay.worker.app, busy)) ?? 0;
  wechatApi.failNext('media/get', -1, 20, 'system error');
  t.teardown(() => wechatApi.clearScripted());
  await wechat.push(wechat.voice(openid, { recognition: 'busy' }));
  await wechat.push(wechat.text(openid, 'hello?'));
  const [note, next] = await conversation(openid, 2);
  t.equal(textOf(note!), '[voice] busy');
  t.equal(textOf(next!), 'hello?');
  t.equal(mediaCalls(), calls + 3, 'three attempts at the download');
  t.equal(await metricValue(relay.worker.app, busy), busyBefore + 3, "each counted with WeChat's answer");
  t.equal(im.messagesBetween(openid).length, 2, 'nothing else');
  t.notOk(await queueHeld());
});

t.test('media/get busy once: the next attempt relays the sound', async (t) => {
  const openid = fakeOpenId();
  wechatApi.failNext('media/get', -1, 1, 'system error');
  await wechat.push(wechat.voice(openid));
  const [m] = await conversation(openid, 1);
  t.equal(m!.body[0]?.MsgType, 'TIMSoundElem');
});

t.test('a CreateTime in the future does not lengthen the link or the stored media past 3 days from now', async (t) => {
  const openid = fakeOpenId();
  const push = { ...wechat.voice(openid), createTime: Math.floor(Date.now() / 1000) + 30 * 86400 };
  const before = Math.floor(Date.now() / 1000);
  await wechat.push(push);
  const [m] = await conversation(openid, 1);
  const sound = m!.body.find((b) => b.MsgType === 'TIMSoundElem')!.MsgContent;
  const [id, expires] = String(sound['Url']).slice(`${PUBLIC_URL}/media/`.length).split('.') as [string, string];
  const after = Math.floor(Date.now() / 1000);
  t.ok(
    Number(expires) >= before + THREE_DAYS_S && Number(expires) <= after + THREE_DAYS_S,
    `the link expires 3 days from the first attempt (${Number(expires) - after} s from now)`,
  );
  const ttl = await redis.pttl(stateKeys(prefix).media(id));
  t.ok(
    ttl > 0 && ttl <= THREE_DAYS_S * 1000 + MEDIA_DECISION_KEPT_MS,
    `the stored recording too, and ten minutes for a retry to find what was sent (${ttl} ms)`,
  );
});

t.test("WeChat's minute limit on media/get (45011): this customer's line waits it out once and relays the sound; nobody else waits", async (t) => {
  const openid = fakeOpenId();
  const other = fakeOpenId();
  writeFileSync(on, '');
  const calls = mediaCalls();
  wechatApi.failNext('media/get', 45011, 1, 'api freq out of limit');
  t.teardown(() => wechatApi.clearScripted());
  const pushedAt = Date.now();
  await wechat.push(wechat.voice(openid, { recognition: 'wait for me' }));
  await wechat.push(wechat.text(openid, 'after the voice'));
  await wechat.push(wechat.text(other, 'another customer'));
  await conversation(other, 1);
  t.equal(im.messagesBetween(openid).length, 0, "another customer's message went while this one's waited");
  t.notOk(await queueHeld(), 'the inbound queue is not held');
  const [sound, next] = await conversation(openid, 2);
  t.ok(Date.now() - pushedAt >= MINUTE_WAIT_MS, 'the voice waited out the minute');
  t.equal(sound!.body[0]?.MsgType, 'TIMSoundElem', 'the recording, not the note');
  t.equal(textOf(next!), 'after the voice', 'the next message after it, in order');
  t.equal(im.messagesBetween(openid).length, 2, 'nothing else');
  t.equal(mediaCalls(), calls + 2, 'downloaded again after the wait');
  t.equal(await metricValue(relay.worker.app, 'wxim_im_retries_total{class="rate_limited"}'), 1, 'the wait counted under the limit');
});

t.test('45011 again after the wait: the note, then the next message', async (t) => {
  const openid = fakeOpenId();
  writeFileSync(on, '');
  const calls = mediaCalls();
  wechatApi.failNext('media/get', 45011, 5, 'api freq out of limit');
  t.teardown(() => wechatApi.clearScripted());
  await wechat.push(wechat.voice(openid, { recognition: 'still busy' }));
  await wechat.push(wechat.text(openid, 'hello?'));
  const [note, next] = await conversation(openid, 2);
  t.equal(textOf(note!), '[voice] still busy', 'the note');
  t.equal(textOf(next!), 'hello?');
  t.equal(mediaCalls(), calls + 2, 'waited out once, not more');
  t.notOk(await queueHeld());
});

t.test('an access_token WeChat refuses again right after its renewal (renewed elsewhere meanwhile): the next attempt relays the sound', async (t) => {
  const openid = fakeOpenId();
  writeFileSync(on, '');
  const calls = mediaCalls();
  wechatApi.failNext('media/get', 40001, 2, 'invalid credential, access_token is invalid or not latest');
  t.teardown(() => wechatApi.clearScripted());
  await wechat.push(wechat.voice(openid, { recognition: 'token trouble' }));
  const [sound] = await conversation(openid, 1);
  t.equal(sound!.body[0]?.MsgType, 'TIMSoundElem', 'the recording, not the note');
  t.equal(mediaCalls(), calls + 3, 'refused, renewed and refused, then downloaded on the next attempt');
  t.equal(await metricValue(relay.worker.app, 'wxim_im_retries_total{class="wechat_token"}'), 1, "counted as WeChat's token");
  t.same(
    (await metricLines(relay.worker.app, 'wxim_im_retries_total')).filter((l) => /class="(credential|configuration)"/.test(l)),
    ['wxim_im_retries_total{class="credential"} 0', 'wxim_im_retries_total{class="configuration"} 0'],
    "not as IM's credentials, which page",
  );
});

// Last: the im-worker then leaves media/get alone for 5 minutes, as WeChat said its quota is used up.
t.test("WeChat's daily limit on media/get (45009): the note at once, the customer's next message right after, no queue held", async (t) => {
  const openid = fakeOpenId();
  const calls = mediaCalls();
  wechatApi.failNext('media/get', 45009, 1, 'reach max api daily quota limit');
  await wechat.push(wechat.voice(openid, { recognition: 'first' }));
  await wechat.push(wechat.text(openid, 'and then this'));
  await wechat.push(wechat.voice(openid, { recognition: 'again' }));
  const [note, next, again] = await conversation(openid, 3);
  t.equal(textOf(note!), '[voice] first', 'the note');
  t.equal(textOf(next!), 'and then this', 'the next message, in order');
  t.equal(textOf(again!), '[voice] again', 'a later voice: the note too');
  t.equal(mediaCalls(), calls + 1, 'WeChat was asked once: the quota it said is used up is not asked again');
  t.notOk(await queueHeld(), 'the inbound queue is not held');
});
