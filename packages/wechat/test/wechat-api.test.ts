import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WechatApiSimulator, fakeOpenId } from '@wxim/sandbox';
import { eventually, freePort, startTestRedis, testPrefix } from '@wxim/testkit';
import {
  AccessTokenStore,
  DailyQuotas,
  WechatApi,
  WechatRateLimitedError,
  type WechatApiOptions,
  WechatCredentialError,
  WechatPermanentError,
  WechatTransientError,
  WechatUncertainError,
  reasonOf,
  stableToken,
} from '@wxim/wechat';
import { stateKeys } from '@wxim/state';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';

const APP_ID = 'wx0123456789abcdef';
const SECRET = 'sandbox-app-secret-00000000000000';
/** A few bytes that start like a PNG: the simulator checks the extension and size, not the pixels. */
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(512, 7)]);

const redisServer = await startTestRedis();
const sim = new WechatApiSimulator({ appId: APP_ID, secret: SECRET });
const apiBase = await sim.listen();
const redis = new Redis(redisServer.url);
const fetcher = stableToken({ apiBase, appId: APP_ID, secret: SECRET });
const tokens = new AccessTokenStore({ redis, keys: stateKeys(testPrefix()).accessToken, fetcher });
t.teardown(async () => {
  await fetcher.close();
  redis.disconnect();
  await sim.close();
  await redisServer.close();
});

/** Every error a test saw, to check at the end that none carries a token or the secret. */
const thrown: unknown[] = [];
const issued = new Set<string>();

function client(t: Test, options: Partial<WechatApiOptions> = {}) {
  const outcomes: string[] = [];
  const api = new WechatApi({ apiBase, appId: APP_ID, tokens, timeoutMs: 2000, afterCall: (name, outcome) => outcomes.push(`${name} ${outcome}`), ...options });
  t.teardown(() => api.destroy());
  return { api, outcomes };
}

async function failure(t: Test, promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof Error, 'it failed');
  thrown.push(err);
  issued.add((await tokens.read())?.token ?? '');
  return err as Error;
}

function customer(kind: 'message' | 'event' = 'message', atMs?: number): string {
  const openid = fakeOpenId();
  sim.customerActed(openid, kind, atMs);
  return openid;
}

t.test('a text reaches the customer', async (t) => {
  const { api, outcomes } = client(t);
  const openid = customer();
  t.equal(await api.sendCustom({ touser: openid, msgtype: 'text', text: { content: '您好，有什么可以帮您？' } }), true);
  t.same(
    sim.sentTo(openid).map((m) => [m.msgtype, m.payload]),
    [['text', { content: '您好，有什么可以帮您？' }]],
  );
  t.same(outcomes, ['message/custom/send ok']);
  issued.add((await tokens.read())!.token);
});

t.test('an image is uploaded, then sent by its media_id', async (t) => {
  const { api } = client(t);
  const openid = customer();
  const mediaId = await api.uploadMedia('image', PNG, 'photo.png', 'image/png');
  t.ok(mediaId, `media_id ${mediaId}`);
  const stored = sim.media.get(mediaId!);
  t.same(
    stored && [stored.type, stored.filename, stored.contentType, stored.bytes.equals(PNG)],
    ['image', 'photo.png', 'image/png', true],
    'the file arrived whole',
  );
  t.equal(await api.sendCustom({ touser: openid, msgtype: 'image', image: { media_id: mediaId! } }), true);
  t.same(sim.sentTo(openid)[0]?.payload, { media_id: mediaId });
});

t.test('a large upload on a slow uplink is given the time its bytes take to leave, beyond the timeout', async (t) => {
  // WeChat's end of a slow link: the file's bytes come in at ~512 KiB/s, answered once all are in.
  const received: number[] = [];
  const slow = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      req.pause();
      setTimeout(() => req.resume(), (chunk.length / (512 * 1024)) * 1000);
    });
    req.on('end', () => {
      received.push(bytes);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ type: 'video', media_id: 'uploaded-slowly', created_at: 1 }));
    });
  });
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => slow.close(() => resolve())));
  const { api } = client(t, { apiBase: `http://127.0.0.1:${(slow.address() as AddressInfo).port}`, timeoutMs: 500 });
  const video = Buffer.alloc(1024 * 1024, 1); // 2 s at that pace: four times the timeout
  const started = Date.now();
  t.equal(await api.uploadMedia('video', video, 'clip.mp4', 'video/mp4'), 'uploaded-slowly', 'uploaded, not timed out');
  t.ok(received[0]! >= video.length, 'the whole file arrived');
  t.ok(Date.now() - started >= 1500, `the bytes took their time (${Date.now() - started} ms)`);
});

t.test('a lost answer is uncertain: the message was in fact delivered', async (t) => {
  const { api, outcomes } = client(t);
  const openid = customer();
  sim.failNext('message/custom/send', 'lost');
  const err = await failure(t, api.sendCustom({ touser: openid, msgtype: 'text', text: { content: 'lost on the way back' } }));
  t.type(err, WechatUncertainError);
  t.notOk((err as WechatUncertainError).idempotent, 'a send must not be repeated blindly');
  t.equal(sim.sentTo(openid).length, 1, 'WeChat delivered it');
  t.same(outcomes, ['message/custom/send network']);
});

t.test('an answer later than the timeout is uncertain', async (t) => {
  const { api } = client(t, { timeoutMs: 200 });
  const openid = customer();
  sim.answerLate('message/custom/send', 1000);
  t.type(await failure(t, api.sendCustom({ touser: openid, msgtype: 'text', text: { content: 'slow' } })), WechatUncertainError);
});

t.test('HTTP 5xx is uncertain, system busy (-1) transient', async (t) => {
  const { api } = client(t);
  const openid = customer();
  sim.faults = { rate: 1, kinds: ['http500'] };
  const err = await failure(t, api.sendCustom({ touser: openid, msgtype: 'text', text: { content: 'x' } }));
  sim.faults = { rate: 0, kinds: [] };
  t.type(err, WechatUncertainError);
  t.match(err.message, /HTTP 500/);
  sim.failNext('message/custom/send', -1);
  t.type(await failure(t, api.sendCustom({ touser: openid, msgtype: 'text', text: { content: 'x' } })), WechatTransientError);
});

t.test('a refused connection is transient: the request never left', async (t) => {
  const { api, outcomes } = client(t, { apiBase: `http://127.0.0.1:${await freePort()}` });
  const err = await failure(t, api.sendCustom({ touser: customer(), msgtype: 'text', text: { content: 'nobody listens' } }));
  t.type(err, WechatTransientError);
  t.match(err.message, /request not sent: ECONNREFUSED/);
  t.same(outcomes, ['message/custom/send network']);
});

t.test("a closed window and a used-up quota are permanent, with the reason in an agent's words", async (t) => {
  const { api } = client(t);
  const late = customer('message', Date.now() - 49 * 3_600_000);
  const closed = await failure(t, api.sendCustom({ touser: late, msgtype: 'text', text: { content: 'too late' } }));
  t.type(closed, WechatPermanentError);
  t.equal((closed as WechatPermanentError).code, 45015);
  t.match(reasonOf((closed as WechatPermanentError).code), /48-hour window has closed/);
  const chatty = customer();
  for (let i = 0; i < 5; i++) t.equal(await api.sendCustom({ touser: chatty, msgtype: 'text', text: { content: `reply ${i}` } }), true);
  const used = await failure(t, api.sendCustom({ touser: chatty, msgtype: 'text', text: { content: 'reply 6' } }));
  t.type(used, WechatPermanentError);
  t.equal((used as WechatPermanentError).code, 45047);
  t.match(reasonOf(45047), /quota for this window is used up/);
  t.equal(sim.sentTo(chatty).length, 5);
});

t.test('a token voided behind our back is dropped, renewed, and the call still succeeds', async (t) => {
  const { api, outcomes } = client(t);
  const openid = customer();
  const before = await tokens.get();
  const fetches = sim.stats.tokenFetches.stable;
  sim.invalidateTokens();
  t.equal(await api.sendCustom({ touser: openid, msgtype: 'text', text: { content: 'after the token was voided' } }), true);
  t.same(outcomes, ['message/custom/send 40001', 'message/custom/send ok']);
  t.equal(sim.stats.tokenFetches.stable - fetches, 1, 'one fetch');
  const after = (await tokens.read())!.token;
  t.not(after, before);
  issued.add(before).add(after);
});

t.test('a token refused twice running is a renewable credential error after the one retry', async (t) => {
  const { api } = client(t);
  sim.failNext('message/custom/send', 40001, 2);
  let turns = 0;
  const err = await failure(t, api.sendCustom({ touser: customer(), msgtype: 'text', text: { content: 'x' } }, { beforeSend: async () => (turns++, true) }));
  t.type(err, WechatCredentialError);
  t.ok((err as WechatCredentialError).renewable);
  t.equal(turns, 2, 'beforeSend ran before each attempt');
});

t.test('beforeSend resolving false skips the call', async (t) => {
  const { api, outcomes } = client(t);
  const openid = customer();
  t.equal(await api.sendCustom({ touser: openid, msgtype: 'text', text: { content: 'x' } }, { beforeSend: async () => false }), false);
  t.equal(await api.uploadMedia('image', PNG, 'a.png', 'image/png', { beforeSend: async () => false }), undefined);
  t.same(sim.sentTo(openid), []);
  t.same(outcomes, []);
});

t.test('typing shows within 30 s of a message, once until it lapses', async (t) => {
  const { api } = client(t);
  const openid = customer();
  t.equal(await api.typing(openid, 'Typing'), true);
  const again = await failure(t, api.typing(openid, 'Typing'));
  t.type(again, WechatPermanentError);
  t.equal((again as WechatPermanentError).code, 45081);
  t.equal(await api.typing(openid, 'CancelTyping'), true);
});

t.test('media over its limit or of the wrong format is refused for good', async (t) => {
  const { api } = client(t);
  const big = await failure(t, api.uploadMedia('thumb', Buffer.alloc(65 * 1024, 1), 'thumb.jpg', 'image/jpeg'));
  t.type(big, WechatPermanentError);
  t.equal((big as WechatPermanentError).code, 40012);
  const wrong = await failure(t, api.uploadMedia('voice', Buffer.alloc(100, 1), 'voice.wav', 'audio/wav'));
  t.equal((wrong as WechatPermanentError).code, 40005);
  t.match(reasonOf(40005), /too large or in a format/);
  const missing = await failure(t, api.sendCustom({ touser: customer(), msgtype: 'voice', voice: { media_id: 'no-such-media' } }));
  t.equal((missing as WechatPermanentError).code, 40007);
});

/** The client's quotas on the test's clock, a 5-minute look again, refused waits at the start of their spread. */
const quotasAt = (now: () => number) => new DailyQuotas(300_000, now, () => 0);

t.test("an API over its daily quota is left alone until one call tries it again; the client's other APIs go on", async (t) => {
  let now = Date.UTC(2026, 11, 5, 2, 0); // 10:00 in China: the day has 14 hours left
  const { api, outcomes } = client(t, {
    quotas: quotasAt(() => now),
  });
  const openid = customer();
  t.teardown(() => sim.clearScripted());
  sim.failNext('message/custom/send', 45009, 10, 'reach max api daily quota limit');
  const send = (content: string, beforeSend?: () => Promise<boolean>) =>
    api.sendCustom({ touser: openid, msgtype: 'text', text: { content } }, beforeSend === undefined ? {} : { beforeSend });
  const refused = await failure(t, send('one'));
  t.type(refused, WechatRateLimitedError);
  t.equal((refused as WechatRateLimitedError).retryAfterMs, 300_000, 'waited for until the look again, not the day');
  t.same(api.quotas.usedUpNow(), ['message/custom/send']);
  let turns = 0;
  now += 299_000;
  const held = await failure(
    t,
    send('two', async () => (turns++, true)),
  );
  t.type(held, WechatRateLimitedError);
  t.equal((held as WechatRateLimitedError).code, 45009, 'as WeChat would answer');
  t.equal((held as WechatRateLimitedError).retryAfterMs, 1000, 'the rest of the hold');
  t.equal(turns, 0, 'no turn taken: the call is not made');
  t.equal(await api.typing(openid, 'Typing'), true, 'another API is called');
  t.same(outcomes, ['message/custom/send 45009', 'message/custom/typing ok'], 'one send reached WeChat');
  now += 1000; // five minutes on: one call looks again, and finds the quota still used up
  await failure(t, send('three'));
  t.equal(outcomes.filter((o) => o === 'message/custom/send 45009').length, 2);
  sim.clearScripted(); // the quota is back (an operator's clear_quota)
  now += 300_000;
  t.equal(await send('four'), true);
  t.same(api.quotas.usedUpNow(), [], 'a call that succeeds ends it');
  t.same(
    sim.sentTo(openid).map((m) => m.payload['content']),
    ['four'],
  );
});

t.test('a quota used up shows until WeChat’s day is over, and is left alone no longer than that', async (t) => {
  let now = Date.UTC(2026, 11, 5, 15, 58); // 23:58 in China
  const quotas = quotasAt(() => now);
  t.equal(quotas.usedUp('message/custom/send'), 120_000, 'held until midnight, sooner than the look again');
  t.throws(() => quotas.check('message/custom/send'), WechatRateLimitedError);
  t.same(quotas.check('media/upload'), { at: now }, 'another API is not held');
  now += 120_000;
  t.same(quotas.usedUpNow(), [], 'a new day: no longer shown used up');
  t.same(quotas.check('message/custom/send'), { at: now }, 'and called as any API, every call');
});

t.test('when the quota may be back, one call tries the API; the others wait for its answer', async (t) => {
  let now = Date.UTC(2026, 11, 5, 2, 0);
  const quotas = quotasAt(() => now);
  quotas.usedUp('message/custom/send');
  now += 300_000;
  const pass = quotas.check('message/custom/send');
  t.ok(pass.trying, 'the first call tries it again');
  const waiting = t.throws(() => quotas.check('message/custom/send')) as unknown as WechatRateLimitedError;
  t.equal(waiting.retryAfterMs, 1000, 'another waits a second for its answer');
  t.ok(waiting.awaitsProbe, 'a refusal that decides nothing');
  quotas.tried('message/custom/send', pass); // it ended without an answer (a timeout, its turn refused)
  const next = quotas.check('message/custom/send');
  t.ok(next.trying, 'so the next call tries');
  now += 300_000; // a call still trying after a whole look again is stuck: another tries
  const unstuck = quotas.check('message/custom/send');
  t.ok(unstuck.trying);
  quotas.tried('message/custom/send', next); // the stuck one ends now: the turn is no longer its own
  t.equal((t.throws(() => quotas.check('message/custom/send')) as unknown as WechatRateLimitedError).local, 'probe', 'the later one still tries alone');
  quotas.usedUp('message/custom/send'); // it heard 45009 again: a new hold
  quotas.tried('message/custom/send', unstuck);
  t.equal((t.throws(() => quotas.check('message/custom/send')) as unknown as WechatRateLimitedError).local, 'held', 'still held');
  now += 300_000;
  const last = quotas.check('message/custom/send');
  quotas.succeeded('message/custom/send', last);
  quotas.tried('message/custom/send', last);
  t.same(quotas.check('message/custom/send'), { at: now }, 'it succeeded: every call goes');
  t.same(quotas.usedUpNow(), []);
  // A client with nothing more to send: shown used up through its hold and one more look again, no
  // longer; the hold itself stays (the next call is still the one that tries).
  quotas.usedUp('media/upload');
  now += 599_000;
  t.same(quotas.usedUpNow(), ['media/upload']);
  now += 1000;
  t.same(quotas.usedUpNow(), [], 'nothing tried it again: not shown to midnight');
  t.doesNotThrow(() => quotas.peek('media/upload'), 'a look before a costly call: it could go');
  t.ok(quotas.check('media/upload').trying, 'and the next call tries it again (the look took no turn)');
  t.equal((t.throws(() => quotas.peek('media/upload')) as unknown as WechatRateLimitedError).local, 'probe', 'and only that one');
});

t.test('a call on its way when the quota ran out says nothing of the quota by succeeding', async (t) => {
  let now = Date.UTC(2026, 11, 5, 2, 0);
  const quotas = quotasAt(() => now);
  const early = quotas.check('message/custom/send'); // left before the quota ran out
  now += 5;
  quotas.usedUp('message/custom/send'); // another call's answer: 45009
  now += 5;
  quotas.succeeded('message/custom/send', early); // WeChat had taken the earlier one
  quotas.tried('message/custom/send', early);
  t.same(quotas.usedUpNow(), ['message/custom/send'], 'still shown used up');
  t.throws(() => quotas.check('message/custom/send'), WechatRateLimitedError, 'and still left alone');
  now += 300_000;
  const later = quotas.check('message/custom/send');
  quotas.succeeded('message/custom/send', later);
  t.same(quotas.usedUpNow(), [], 'a call made after the 45009 that succeeds ends it');
});

t.test('a send WeChat took before the quota ran out, answered after the 45009, does not end the hold', async (t) => {
  const now = Date.UTC(2026, 11, 5, 2, 0);
  const { api, outcomes } = client(t, {
    quotas: quotasAt(() => now),
  });
  const openid = customer();
  t.teardown(() => sim.clearScripted());
  sim.answerLate('message/custom/send', 300);
  sim.failNext('message/custom/send', 45009, 1, 'reach max api daily quota limit');
  const calls = () => sim.stats.calls['message/custom/send'] ?? 0;
  const before = calls();
  const send = (content: string) => api.sendCustom({ touser: openid, msgtype: 'text', text: { content } });
  const first = send('on its way');
  await eventually('the first send reached WeChat', () => calls() === before + 1);
  t.type(await failure(t, send('refused')), WechatRateLimitedError, 'the next one meets the used-up quota');
  t.equal(await first, true, 'the first is answered after it: delivered');
  t.same(api.quotas.usedUpNow(), ['message/custom/send'], 'still shown used up');
  t.equal((await failure(t, send('held'))).message.includes('not called'), true, 'and left alone');
  t.equal(calls(), before + 2, 'no third call reached WeChat');
  t.same(outcomes.slice(-2), ['message/custom/send 45009', 'message/custom/send ok']);
  t.same(
    sim.sentTo(openid).map((m) => m.payload['content']),
    ['on its way'],
  );
});

t.test('the waits of calls refused while an API is left alone end spread, not all at once', async (t) => {
  const now = Date.UTC(2026, 11, 5, 2, 0);
  let at = 0;
  const quotas = new DailyQuotas(
    300_000,
    () => now,
    () => at,
  );
  quotas.usedUp('message/custom/send');
  const wait = () => (t.throws(() => quotas.check('message/custom/send')) as unknown as WechatRateLimitedError).retryAfterMs;
  t.equal(wait(), 300_000, 'from the hold’s end');
  at = 0.5;
  t.equal(wait(), 315_000);
  at = 0.999;
  t.ok(wait() < 330_000, 'to a tenth of the look again after it');
});

t.test('the call that tries an over-quota API again and is not made lets the next one try', async (t) => {
  let now = Date.UTC(2026, 11, 5, 2, 0);
  const { api } = client(t, {
    quotas: quotasAt(() => now),
  });
  const openid = customer();
  t.teardown(() => sim.clearScripted());
  sim.failNext('message/custom/send', 45009, 1, 'reach max api daily quota limit');
  await failure(t, api.sendCustom({ touser: openid, msgtype: 'text', text: { content: 'refused' } }));
  now += 300_000;
  t.equal(
    await api.sendCustom({ touser: openid, msgtype: 'text', text: { content: 'skipped' } }, { beforeSend: async () => false }),
    false,
    'its turn refused',
  );
  const turnThrew = await failure(
    t,
    api.sendCustom(
      { touser: openid, msgtype: 'text', text: { content: 'lock lost' } },
      {
        beforeSend: async () => {
          throw new Error('the lock is gone');
        },
      },
    ),
  );
  t.equal(turnThrew.message, 'the lock is gone', 'the next one tried, and its turn threw');
  t.equal(await api.sendCustom({ touser: openid, msgtype: 'text', text: { content: 'back' } }), true, 'the one after that tries, and the quota is back');
  t.same(api.quotas.usedUpNow(), []);
  t.same(
    sim.sentTo(openid).map((m) => m.payload['content']),
    ['back'],
  );
});

t.test('a download that trickles, each piece within the timeout, is cut off at its deadline: it holds no line for good', async (t) => {
  // A byte every 100 ms: never idle for the 300 ms timeout, and 100 s for 1,000 bytes.
  const trickle = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'audio/amr' });
    const timer = setInterval(() => res.write(Buffer.from([1])), 100);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((resolve) => trickle.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => (trickle.closeAllConnections(), trickle.close(() => resolve()))));
  const { api, outcomes } = client(t, { apiBase: `http://127.0.0.1:${(trickle.address() as AddressInfo).port}`, timeoutMs: 300 });
  const started = Date.now();
  // 1,000 bytes at the slowest pace allowed for take ~4 ms: the deadline is ~0.3 s.
  const err = await failure(t, api.getMedia('trickled', 1000));
  t.ok(Date.now() - started < 2000, `cut off after ${Date.now() - started} ms`);
  t.match(err.name, /^Wechat(Transient|Uncertain)Error$/, 'a failure a later attempt may not meet');
  t.same(outcomes, ['media/get deadline'], 'counted as cut at its deadline, not as a network failure');
});

t.test('no token and no secret in any error thrown above', async (t) => {
  t.ok(thrown.length >= 10, `${thrown.length} errors`);
  issued.delete('');
  t.ok(issued.size >= 2, `${issued.size} tokens issued`);
  for (const err of thrown) {
    const e = err as Error;
    for (const text of [e.message, JSON.stringify(e), String(e.stack)]) {
      t.notOk(text.includes(SECRET), `${e.name}: no secret`);
      for (const token of issued) t.notOk(text.includes(token), `${e.name}: no token`);
      t.notMatch(text, /access_token=/);
    }
  }
});
