import { createServer } from 'node:http';
import { textElem, imageElem } from '@wxim/im';
import { type ReceivedMessage, fakeOpenId } from '@wxim/sandbox';
import { eventually, twoWayForTests } from '@wxim/testkit';
import { Redis } from 'ioredis';
import t from 'tap';

// A PNG served from loopback, which MEDIA_ALLOWED_HOSTS lets the pusher fetch.
const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(2048, 7)]);
const media = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
  res.end(png);
});
await new Promise<void>((r) => media.listen(0, '127.0.0.1', r));
const mediaPort = (media.address() as { port: number }).port;
t.teardown(() => media.close());

const relay = await twoWayForTests(t, { env: { MEDIA_ALLOWED_HOSTS: `127.0.0.1:${mediaPort}`, LOG_LEVEL: process.env['DBG'] ? 'debug' : 'silent' } });
const { im, wechatApi } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const prefix = relay.env['QUEUE_PREFIX']!;

async function conversation() {
  const openid = fakeOpenId();
  const agent = await relay.customerWrites(openid, 'hello');
  const userId = im.messages.find((m) => m.cloudCustomData?.includes(openid))!.from;
  return { openid, agent, userId };
}

function noticesTo(agent: string, userId: string): ReceivedMessage[] {
  return im.messages.filter((m) => m.from === userId && m.to === agent && m.cloudCustomData?.includes('relay-notice'));
}

/** The first notice of a reply not delivered (⚠), leaving aside the reply window's notices (⏳). */
async function noticeText(agent: string, userId: string): Promise<string> {
  const texts = () => noticesTo(agent, userId).map((m) => String(m.body[0]!.MsgContent['Text']));
  await eventually('a notice reaches the agent', () => texts().some((text) => text.startsWith('⚠')));
  return texts().find((text) => text.startsWith('⚠'))!;
}

t.test("a reply after the customer's 48-hour window comes back to its agent as a notice quoting it", async (t) => {
  const { openid, agent, userId } = await conversation();
  await redis.hset(`${prefix}:reply-window:${openid}`, 'deadline', String(Date.now() - 1000)); // 48 hours later
  await im.agentSend(agent, userId, [textElem('Sorry for the wait, here is your answer')]);
  const text = await noticeText(agent, userId);
  t.match(text, /^⚠ Relay notice/, 'plainly the relay’s, not the customer’s words');
  t.match(text, /Sorry for the wait/, 'quotes the reply');
  t.match(text, /48-hour window has closed/, 'says why');
  t.equal(wechatApi.sentTo(openid).length, 0, 'nothing was sent to WeChat');
  const notice = noticesTo(agent, userId)[0]!;
  t.same(notice.forbidCallbackControl, ['ForbidBeforeSendMsgCallback', 'ForbidAfterSendMsgCallback'], 'notices trigger no callback');
  // The job fails right after its notice is sent.
  await eventually('the reply is visible as failed, with its reason', async () =>
    (await relay.pusher.queue.getFailed()).some((j) => j.failedReason.includes('window has closed')),
  );
  t.pass('the reply is visible as failed, with its reason');
});

t.test('a reply past the quota comes back as a notice; the five before it arrive', async (t) => {
  const { openid, agent, userId } = await conversation();
  for (let i = 1; i <= 6; i++) await im.agentSend(agent, userId, [textElem(`reply number ${i}`)]);
  const text = await noticeText(agent, userId);
  t.match(text, /reply number 6/);
  t.match(text, /used up/);
  t.same(
    wechatApi.sentTo(openid).map((m) => m.payload['content']),
    ['reply number 1', 'reply number 2', 'reply number 3', 'reply number 4', 'reply number 5'],
  );
});

t.test(
  'a message to a customer from an account not among IM_AGENTS (an agent removed since, a supervisor) is not delivered nor run: its sender is told',
  async (t) => {
    const { openid, userId } = await conversation();
    im.accounts.set('supervisor', {});
    await im.agentSend('supervisor', userId, [textElem('Let me step in here')]);
    const text = await noticeText('supervisor', userId);
    t.match(text, /^⚠ Relay notice/);
    t.match(text, /Let me step in here/, 'quotes it');
    t.match(text, /only the relay's agents \(IM_AGENTS\)/, 'says why');
    await im.agentSend('supervisor', userId, [textElem('/close')]);
    await eventually('the command is refused the same way', () => noticesTo('supervisor', userId).length === 2);
    t.equal(await redis.hget(`${prefix}:customer:${openid}`, 'counted'), '1', 'the conversation is still open: the command did not run');
    t.equal(wechatApi.sentTo(openid).length, 0, 'nothing was sent to WeChat');
  },
);

t.test('WeChat refusing a reply (the customer unfollowed) comes back as a notice', async (t) => {
  const { openid, agent, userId } = await conversation();
  wechatApi.customerUnfollowed(openid);
  await im.agentSend(agent, userId, [textElem('are you still there?')]);
  t.match(await noticeText(agent, userId), /are you still there\?.*unfollowed/);
});

t.test(
  'a reply not delivered to a customer whose IM account is gone (unfollowed, deleted) fails at once: there is no conversation left to tell its agent in',
  async (t) => {
    const { openid, agent, userId } = await conversation();
    // WeChat refuses the send (the customer unfollowed) a second late; meanwhile the im-worker's unfollow deletes their IM account.
    wechatApi.refuseLate('message/custom/send', 43004, 1000, 1);
    t.teardown(() => wechatApi.clearScripted());
    await im.agentSend(agent, userId, [textElem('are you still there?')]);
    const job = async () =>
      (await relay.pusher.queue.getJobs(['active', 'delayed', 'failed', 'completed'])).find((j) => j.data.openid === openid && j.data.agent === agent);
    await eventually('the reply is being sent', async () => (await job()) !== undefined);
    im.accounts.delete(userId);
    await eventually('the reply failed for good', async () => (await (await job())?.getState()) === 'failed', 10_000);
    const failed = (await job())!;
    t.match(failed.failedReason, /not delivered, the conversation is gone from IM/, 'failed as not delivered, saying why nobody was told');
    t.equal(failed.attemptsMade, 1, 'not retried for a notice that can never go');
    t.same(noticesTo(agent, userId), [], 'no notice (nobody to send it from)');
    t.equal(wechatApi.sent.filter((m) => m.openid === openid).length, 0, 'nothing reached WeChat');
  },
);

t.test('an image is downloaded, uploaded as temporary media and sent as an image', async (t) => {
  const { openid, agent, userId } = await conversation();
  await im.agentSend(agent, userId, [textElem('here is the photo'), imageElem('uuid-1', `http://127.0.0.1:${mediaPort}/photo.png`)]);
  const sent = await relay.waitForSent(openid, 2);
  t.match(sent[0], { msgtype: 'text', payload: { content: 'here is the photo' } });
  t.match(sent[1], { msgtype: 'image' });
  const mediaId = String(sent[1]!.payload['media_id']);
  t.same(wechatApi.media.get(mediaId)?.bytes, png, 'the uploaded bytes are the image');
});

t.test('a media URL off MEDIA_ALLOWED_HOSTS is refused and the agent told', async (t) => {
  const { openid, agent, userId } = await conversation();
  await im.agentSend(agent, userId, [imageElem('uuid-2', 'http://10.1.2.3/internal.png')]);
  t.match(await noticeText(agent, userId), /image could not be used/);
  t.equal(wechatApi.sentTo(openid).length, 0);
});

t.test('a send whose answer was lost is not sent again: its agent is told it may not have arrived', async (t) => {
  const { openid, agent, userId } = await conversation();
  wechatApi.failNext('message/custom/send', 'lost');
  await im.agentSend(agent, userId, [textElem('did this one arrive?')]);
  t.match(await noticeText(agent, userId), /did this one arrive\?.*may not have been delivered/);
  t.equal(wechatApi.sentTo(openid).length, 1, 'WeChat has it once (the answer was lost, not the message); it was not sent twice');
});

t.test("a reply being retried keeps the customer's later replies behind it", async (t) => {
  const { openid, agent, userId } = await conversation();
  wechatApi.failNext('message/custom/send', -1, 3); // system busy, three times
  for (const text of ['first', 'second', 'third']) await im.agentSend(agent, userId, [textElem(text)]);
  const sent = await relay.waitForSent(openid, 3);
  t.same(
    sent.map((m) => m.payload['content']),
    ['first', 'second', 'third'],
  );
  t.equal(noticesTo(agent, userId).length, 0);
});
