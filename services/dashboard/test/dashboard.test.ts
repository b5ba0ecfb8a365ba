import { appRoutes } from '@bull-board/api/dist/routes.js';
import { loadConfig } from '@wxim/config';
import { BOARD_ACTIONS, type DashboardOverrides, dashboardService } from '@wxim/dashboard';
import { QUEUES, withJobInHand } from '@wxim/queue';
import { fakeOpenId } from '@wxim/sandbox';
import { eventually, relayForTests } from '@wxim/testkit';
import { request } from 'undici';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Writable } from 'node:stream';
import t from 'tap';
import { LOGIN, SIGNED_IN, boardOnLoopback } from './board-client.js';

const relay = await relayForTests(t);
const { im, wechat } = relay;

const board = (env: Record<string, string>, overrides: DashboardOverrides = {}) =>
  boardOnLoopback(t, loadConfig({ REDIS_URL: relay.redisUrl, ...relay.env, ...env }), overrides);

/** A board whose log lines are kept, parsed. */
async function loggedBoard(env: Record<string, string>) {
  const lines: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return {
    ...(await board({ LOG_LEVEL: 'info', ...env }, { logStream })),
    lines,
    changes: () => lines.filter((l) => String(l['msg']).startsWith('board change')),
  };
}

// A message IM refuses for good (80001: content security), failed visibly in wechat-inbound.
const openid = fakeOpenId();
const text = 'a message IM refuses once';
const push = wechat.text(openid, text);
const jobId = `m-${openid}-${push.kind === 'text' ? push.msgId : ''}`;
const failedJobs = '/api/queues?activeQueue=wechat-inbound&status=failed&page=1&jobsPerPage=50';
t.before(async () => {
  im.failNext('openim/sendmsg', 80001, 1, 'content security check failed');
  if ((await wechat.push(push)).status !== 200) throw new Error('the push was not stored');
  await eventually('the relay failed for good', async () => (await relay.worker.queue.getFailed()).some((j) => j.id === jobId));
});

/** Every route bull-board serves that changes something, as `METHOD /pattern`. */
const changingRoutes = appRoutes.api
  .flatMap((r) => [r.method].flat().flatMap((m) => [r.route].flat().map((route) => `${m.toUpperCase()} ${route}`)))
  .filter((r) => !r.startsWith('GET '));

/** A route pattern with its parameters filled in. */
function pathOf(pattern: string, queueName: string, id = jobId): string {
  const params: Record<string, string> = { queueName, jobId: encodeURIComponent(id), queueStatus: 'failed', schedulerId: 'no-such-scheduler' };
  return pattern.replace(/:(\w+)/g, (_, name: string) => params[name] ?? 'x');
}

t.test('the board is behind basic authentication; health and metrics are not', async (t) => {
  const { call } = await board(LOGIN);
  t.equal((await call('GET', '/api/queues', { headers: {} })).status, 401, 'no credentials');
  const wrong = { authorization: `Basic ${Buffer.from('ops:wrong').toString('base64')}` };
  t.equal((await call('GET', '/api/queues', { headers: wrong })).status, 401, 'a wrong password');
  t.equal((await call('GET', '/', { headers: {} })).status, 401, 'the page too');
  t.equal((await call('GET', '/healthz', { headers: {} })).status, 200);
  t.equal((await call('GET', '/metrics', { headers: {} })).status, 200);
  const page = await call('GET', '/');
  t.equal(page.status, 200, 'the page, signed in');
  t.match(page.text, '"boardTitle":"WeChat ⇄ IM relay"', 'titled without an account');
  t.notMatch(page.text, 'All accounts', 'one account: no link to a list of accounts');
});

t.test('no other site may frame the board (clickjacking a retry or a clean): every answer says so, the login too', async (t) => {
  for (const env of [LOGIN, {}]) {
    const { call } = await board(env);
    for (const [path, headers] of [
      ['/', SIGNED_IN],
      ['/api/queues', SIGNED_IN],
      ['/desk', SIGNED_IN],
      ['/', {}],
    ] as const) {
      const answer = await call('GET', path, { headers });
      t.equal(answer.headers['x-frame-options'], 'DENY', `${path} (${answer.status}) ${env === LOGIN ? 'with' : 'without'} a password: X-Frame-Options`);
      t.equal(answer.headers['content-security-policy'], "frame-ancestors 'none'", 'and the CSP');
    }
  }
});

t.test("a failed relay shows IM's code and reason, and whose message it was", async (t) => {
  const { call } = await board(LOGIN);
  const res = await call('GET', failedJobs);
  t.equal(res.status, 200);
  const queues = res.json<{ queues: { name: string; jobs: { id: string; name: string; failedReason: string }[] }[] }>().queues;
  t.same(queues.map((q) => q.name).sort(), ['agent-replies', 'wechat-inbound'], 'every queue of the relay');
  const job = queues.find((q) => q.name === 'wechat-inbound')!.jobs.find((j) => j.id === jobId)!;
  t.match(job.failedReason, /80001 content security check failed/, "IM's code and reason");
  t.equal(job.name, `text from customer ${openid}`, 'whose message it was');
});

t.test('queue depth, failures and the oldest waiting job are exported as metrics', async (t) => {
  const { call } = await board(LOGIN);
  const metrics = (await call('GET', '/metrics', { headers: {} })).text;
  t.match(metrics, /wxim_queue_jobs\{queue="wechat-inbound",state="failed"\} 1\n/);
  t.match(metrics, /wxim_queue_jobs\{queue="agent-replies",state="waiting"\} 0\n/);
  t.match(metrics, /wxim_queue_oldest_waiting_seconds\{queue="wechat-inbound"\} 0\n/);
});

t.test('without a password, a page elsewhere cannot read the board through a name of its own (DNS rebinding): 421', async (t) => {
  const { call } = await board({});
  t.match((await call('GET', failedJobs, { headers: {} })).text, openid, 'this machine reads the job, whose it is and what it says');
  for (const host of ['attacker.example', 'attacker.example:3002', '127.0.0.1.nip.io', 'localhost.attacker.example', 'dashboard:3002', '10.1.2.3:3002']) {
    const res = await call('GET', failedJobs, { headers: { host } });
    t.equal(res.status, 421, host);
    t.match(res.json<{ error: string }>().error, /answers only to 127\.0\.0\.1, localhost, ::1/);
    t.notOk(res.text.includes(openid) || res.text.includes(text), 'neither the openid nor the text');
    t.equal((await call('GET', '/', { headers: { host } })).status, 421, `${host}: the page neither`);
  }
});

t.test("without a password the board answers to this machine's names: the loopback names and LOCAL_BIND's address", async (t) => {
  const { call } = await board({ LOCAL_BIND: '192.168.7.7' });
  for (const host of ['127.0.0.1:3002', 'localhost:3002', 'LOCALHOST', '[::1]:3002', '192.168.7.7:3002']) {
    t.equal((await call('GET', failedJobs, { headers: { host } })).status, 200, host);
  }
});

t.test('probes and Prometheus are answered whatever the Host: they name a pod by its IP or a Service', async (t) => {
  for (const env of [{}, LOGIN]) {
    const { call } = await board(env);
    for (const host of ['10.1.2.3:3002', 'dashboard:3002', 'attacker.example'])
      for (const path of ['/healthz', '/readyz', '/metrics']) t.equal((await call('GET', path, { headers: { host } })).status, 200, `${host}${path}`);
  }
});

t.test('with a password any Host may ask (an ingress, a port-forward), and reads nothing without the login', async (t) => {
  const { call } = await board(LOGIN);
  t.equal((await call('GET', failedJobs, { headers: { host: 'dashboard.ops.example' } })).status, 401, 'no credentials');
  t.equal((await call('GET', failedJobs, { headers: { host: 'dashboard.ops.example', ...SIGNED_IN } })).status, 200, 'signed in');
});

t.test("signed in, no one can add a job, edit a job's data, empty or obliterate a queue: any text could go to any customer", async (t) => {
  const { dashboard, call } = await board(LOGIN);
  const replies = dashboard.queues.find((q) => q.name === 'agent-replies')!;
  const countsBefore = await replies.getJobCounts();
  const reply = {
    name: 'reply',
    data: {
      agent: 'agent_a',
      userId: 'someone',
      openid: fakeOpenId(),
      msgKey: 'k',
      msgTime: 1,
      body: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'anything' } }],
    },
  };
  const json = { ...SIGNED_IN, 'content-type': 'application/json' };
  const attempts: ['POST' | 'PATCH' | 'PUT', string, object][] = [
    ['POST', '/api/queues/agent-replies/add', { ...reply, options: {} }],
    [
      'PATCH',
      `/api/queues/wechat-inbound/${encodeURIComponent(jobId)}/update-data`,
      { data: { message: { fromUserName: fakeOpenId(), content: 'anything' } } },
    ],
    ['PUT', '/api/queues/wechat-inbound/empty', {}],
    ['PUT', '/api/queues/agent-replies/obliterate', { force: true }],
  ];
  for (const [method, path, body] of attempts) {
    const res = await call(method, path, { headers: json, body: JSON.stringify(body) });
    t.equal(res.status, 405, `${method} ${path}`);
    t.match(res.json<{ error: string }>().error, /only retries, removes, promotes, pauses, resumes and cleans/);
  }
  t.same(await replies.getJobCounts(), countsBefore, 'no reply added, none removed');
  const job = (await relay.worker.queue.getJob(jobId))!;
  t.equal(await job.getState(), 'failed', 'the failed push is still there');
  t.equal((job.data as { message: { fromUserName: string } }).message.fromUserName, openid, 'as it was pushed');
});

t.test('every route by which bull-board changes something is one the board allows or refused 405: a new or renamed one fails here', async (t) => {
  const { dashboard, call } = await board(LOGIN);
  for (const route of changingRoutes) {
    const [method, url] = route.split(' ') as [string, string];
    t.ok(dashboard.app.hasRoute({ method, url }), `${route}: served as bull-board names it`);
  }
  for (const action of BOARD_ACTIONS) t.ok(changingRoutes.includes(action), `${action}: still a route of bull-board's`);
  for (const route of changingRoutes) {
    const [method, pattern] = route.split(' ') as ['PUT', string];
    if (BOARD_ACTIONS.includes(route)) {
      if (!pattern.includes(':queueName')) continue; // every queue paused or resumed: the next test
      t.equal((await call(method, pathOf(pattern, 'no-such-queue'))).status, 404, `${route}: let through, to a queue bull-board does not know`);
    } else {
      const res = await call(method, pathOf(pattern, 'wechat-inbound'));
      t.equal(res.status, 405, `${route}: refused`);
      t.match(res.json<{ error: string }>().error, /only retries, removes/, `${route}: by the board's guard`);
    }
  }
  t.equal(await (await relay.worker.queue.getJob(jobId))?.getState(), 'failed', 'the failed push is untouched');
});

t.test('signed in, the board pauses and resumes every queue', async (t) => {
  const { dashboard, call } = await board(LOGIN);
  t.equal((await call('PUT', '/api/queues/pause')).status, 200);
  t.same(await Promise.all(dashboard.queues.map((q) => q.isPaused())), [true, true], 'paused');
  t.equal((await call('PUT', '/api/queues/resume')).status, 200);
  t.same(await Promise.all(dashboard.queues.map((q) => q.isPaused())), [false, false], 'resumed');
});

t.test('a read-only board (no password, or DASHBOARD_READ_ONLY) shows read-only and refuses every change 405', async (t) => {
  for (const env of [{}, { ...LOGIN, DASHBOARD_READ_ONLY: '1' }]) {
    const { dashboard, call } = await board(env);
    const shown = (await call('GET', '/api/queues')).json<{ queues: { readOnlyMode: boolean; allowRetries: boolean }[] }>().queues;
    t.ok(
      shown.every((q) => q.readOnlyMode && !q.allowRetries),
      'the page shows every queue read-only',
    );
    for (const route of changingRoutes) {
      const [method, pattern] = route.split(' ') as ['PUT', string];
      const res = await call(method, pathOf(pattern, 'wechat-inbound'));
      t.equal(res.status, 405, route);
      t.match(res.json<{ error: string }>().error, /read-only/, `${route}: by the board's guard`);
    }
    t.same(await Promise.all(dashboard.queues.map((q) => q.isPaused())), [false, false], 'no queue paused');
    t.equal(await (await relay.worker.queue.getJob(jobId))?.getState(), 'failed', 'still failed');
  }
});

t.test('a failed job another hand is removing or retrying is not retried from the board (409), and stays failed', async (t) => {
  const { call } = await board(LOGIN);
  const queue = relay.worker.queue;
  const res = await withJobInHand(queue, jobId, () => call('PUT', `/api/queues/wechat-inbound/${encodeURIComponent(jobId)}/retry`));
  t.equal(res?.status, 409);
  t.match(res?.json<{ error: string }>().error, /another hand is removing or retrying it/);
  t.equal(await (await queue.getJob(jobId))?.getState(), 'failed', 'still failed');
});

t.test('retrying from the board relays the message once, with its first ids, and a full set of attempts', async (t) => {
  const { call } = await board(LOGIN);
  const res = await call('PUT', `/api/queues/wechat-inbound/${encodeURIComponent(jobId)}/retry`);
  t.equal(res.status, 204);
  await eventually('the message reaches IM', () => im.messages.some((m) => m.cloudCustomData?.includes(openid)));
  const job = (await relay.worker.queue.getJob(jobId))!;
  await eventually('the job completes', async () => (await job.getState()) === 'completed');
  const completed = (await relay.worker.queue.getJob(jobId))!;
  t.equal(completed.attemptsMade, 1, 'attempts were reset: only the retry counts');
  const sent = im.messages.filter((m) => m.cloudCustomData?.includes(openid));
  t.equal(sent.length, 1, 'once');

  t.test('a completed job is not retried from the board, one or all: it was delivered, and would be again', async (t) => {
    const one = await call('PUT', `/api/queues/wechat-inbound/${encodeURIComponent(jobId)}/retry`);
    t.not(one.status, 204, `refused (${one.status})`);
    const all = await call('PUT', '/api/queues/wechat-inbound/retry/completed');
    t.equal(all.status, 405);
    t.equal(await (await relay.worker.queue.getJob(jobId))?.getState(), 'completed', 'still completed');
    await new Promise((r) => setTimeout(r, 300));
    t.equal(im.messages.filter((m) => m.cloudCustomData?.includes(openid)).length, 1, 'not relayed again');
    const shown = (await call('GET', '/api/queues')).json<{ queues: { allowCompletedRetries: boolean }[] }>().queues;
    t.ok(
      shown.every((q) => !q.allowCompletedRetries),
      'the page offers no retry of completed jobs',
    );
  });
});

t.test('without a password the board listens on loopback only', async (t) => {
  const open = loadConfig({ ...relay.env });
  t.equal(dashboardService.host?.(open), '127.0.0.1');
  t.equal(dashboardService.host?.(loadConfig({ ...relay.env, DASHBOARD_PASSWORD: 'x' })), '0.0.0.0');
});

t.test('the board removes finished jobs only, and keeps what stops their messages from being stored again', async (t) => {
  const { call } = await board(LOGIN);
  const queue = relay.worker.queue;
  // A job still to run (here, waiting ten minutes): it holds its customer's place.
  const held = await queue.add('held', { message: { kind: 'text' } } as never, { jobId: 'held-by-the-test', delay: 600_000 });
  t.teardown(() => held.remove().catch(() => undefined));
  t.equal((await call('PUT', '/api/queues/wechat-inbound/held-by-the-test/clean')).status, 405, 'a delayed job is not removed');
  for (const state of ['delayed', 'wait', 'paused', 'prioritized', 'active']) {
    const res = await call('PUT', `/api/queues/wechat-inbound/clean/${state}`);
    t.equal(res.status, 405, `no clean of ${state} jobs`);
    t.match(res.json<{ error: string }>().error, /only finished jobs/);
  }
  const retry = await call('PUT', '/api/queues/wechat-inbound/held-by-the-test/retry');
  t.equal(retry.status, 409, 'a delayed job is not retried');
  t.match(retry.json<{ error: string }>().error, /it is delayed, not failed/);
  t.equal(await held.getState(), 'delayed', 'still there');

  // The message retried above completed: removed by hand, its push stays known for as long as WeChat may send it again.
  t.equal(await (await queue.getJob(jobId))?.getState(), 'completed');
  const dedupe = `${queue.toKey('')}de:${jobId}`;
  const redis = new Redis(relay.redisUrl);
  t.teardown(() => redis.disconnect());
  t.ok((await redis.pttl(dedupe)) > 0, "the push's deduplication, before");
  t.equal((await call('PUT', `/api/queues/wechat-inbound/${encodeURIComponent(jobId)}/clean`)).status, 204, 'removed');
  t.equal(await queue.getJob(jobId), undefined, 'gone');
  t.ok((await redis.pttl(dedupe)) > 0, 'its deduplication kept');
  // WeChat tries the push again (or a signed request is replayed): stored once, so not again.
  t.equal((await wechat.push(push)).status, 200, 'answered');
  t.equal(await queue.getJob(jobId), undefined, 'not stored again');
  t.equal(im.messages.filter((m) => m.cloudCustomData?.includes(openid)).length, 1, 'relayed once in all');
});

t.test("retrying every failed job from the board relays each customer's messages in the order they came", async (t) => {
  const { call } = await board(LOGIN);
  const customer = fakeOpenId();
  const texts = ['first', 'second', 'third'];
  im.failNext('openim/sendmsg', 80001, texts.length, 'content security check failed');
  for (const text of texts) t.equal((await wechat.push(wechat.text(customer, text))).status, 200);
  const failedOf = async () => (await relay.worker.queue.getFailed()).filter((j) => j.data.message.fromUserName === customer);
  await eventually('all three failed for good', async () => (await failedOf()).length === texts.length);
  const res = await call('PUT', '/api/queues/wechat-inbound/retry/failed');
  t.equal(res.status, 200);
  const received = () => im.messages.filter((m) => m.cloudCustomData?.includes(customer)).map((m) => String(m.body[0]!.MsgContent['Text']));
  await eventually('all three reach IM', () => received().length === texts.length);
  t.same(received(), texts, 'in the order the customer wrote them');
});

t.test('every change asked of the board is logged once answered: what, on which job, by whom, from where, made or refused', async (t) => {
  const { call, changes, lines } = await loggedBoard(LOGIN);
  t.equal((await call('PUT', '/api/queues/wechat-inbound/pause')).status, 200);
  t.equal((await call('PUT', '/api/queues/wechat-inbound/resume')).status, 200);
  t.equal((await call('PUT', '/api/queues/wechat-inbound/clean/delayed')).status, 405);
  t.equal((await call('PUT', '/api/queues/wechat-inbound/retry/failed')).status, 200);
  t.equal((await call('PUT', '/api/queues/wechat-inbound/no-such-job/clean')).status, 404);
  t.equal((await call('PUT', '/api/queues/wechat-inbound/pause', { headers: {} })).status, 401, 'no login: not the board');
  t.equal((await call('GET', '/api/queues')).status, 200, 'a read changes nothing');
  await eventually('every answered change logged', () => changes().length === 5);
  const seen = changes().map((l) => ({ msg: l['msg'], level: l['level'], action: l['action'], queueName: l['queueName'], statusCode: l['statusCode'] }));
  t.same(seen, [
    { msg: 'board change', level: 30, action: 'PUT /api/queues/:queueName/pause', queueName: 'wechat-inbound', statusCode: 200 },
    { msg: 'board change', level: 30, action: 'PUT /api/queues/:queueName/resume', queueName: 'wechat-inbound', statusCode: 200 },
    { msg: 'board change refused', level: 40, action: 'PUT /api/queues/:queueName/clean/:queueStatus', queueName: 'wechat-inbound', statusCode: 405 },
    { msg: 'board change', level: 30, action: 'PUT /api/queues/:queueName/retry/:queueStatus', queueName: 'wechat-inbound', statusCode: 200 },
    { msg: 'board change refused', level: 40, action: 'PUT /api/queues/:queueName/:jobId/clean', queueName: 'wechat-inbound', statusCode: 404 },
  ]);
  t.ok(
    changes().every((l) => l['operator'] === LOGIN.DASHBOARD_USER && l['from'] === '127.0.0.1'),
    'by the board user, from the client',
  );
  t.equal(changes()[2]!['queueStatus'], 'delayed', 'what was asked');
  t.equal(typeof changes()[3]!['retried'], 'number', 'and what it did');
  t.equal(changes()[4]!['jobId'], 'no-such-job');
  t.notMatch(JSON.stringify(lines), new RegExp(`${LOGIN.DASHBOARD_PASSWORD}|${SIGNED_IN.authorization!.slice(6)}`), 'never the password');

  t.test('a read-only board logs what it refused, with no operator', async (t) => {
    const readOnly = await loggedBoard({});
    t.equal((await readOnly.call('PUT', '/api/queues/wechat-inbound/pause')).status, 405);
    await eventually('logged', () => readOnly.changes().length === 1);
    t.match(readOnly.changes()[0], { msg: 'board change refused', statusCode: 405, action: 'PUT /api/queues/:queueName/pause', from: '127.0.0.1' });
    t.notOk('operator' in readOnly.changes()[0]!, 'no user signed in');
  });
});

t.test('a client that leaves before a long retry-all is answered: a line says so, and the retry, which goes on, is logged once done', async (t) => {
  const { lines, base } = await loggedBoard(LOGIN);
  // No pusher runs here: agent-replies' jobs stay where the test puts them.
  const [queueConnection, takerConnection] = [
    new Redis(relay.redisUrl, { maxRetriesPerRequest: null }),
    new Redis(relay.redisUrl, { maxRetriesPerRequest: null }),
  ];
  const prefix = relay.env['QUEUE_PREFIX']!;
  const queue = new Queue(QUEUES.agentReplies, { connection: queueConnection, prefix });
  const taker = new Worker(QUEUES.agentReplies, undefined, { connection: takerConnection, prefix, autorun: false });
  t.teardown(async () => {
    await queue.obliterate({ force: true });
    await taker.close();
    await queue.close();
    queueConnection.disconnect();
    takerConnection.disconnect();
  });
  // Enough that retrying them one at a time outlasts the client by far (a job's retry is a round trip or two).
  const count = 1000;
  await queue.addBulk(Array.from({ length: count }, (_, i) => ({ name: 'reply', data: { n: i } as never, opts: { jobId: `left-${i}` } })));
  for (let i = 0; i < count; i++) await (await taker.getNextJob('token')).moveToFailed(new Error('made to fail'), 'token', false);
  t.equal(await queue.getFailedCount(), count, 'failed, to be retried');
  const client = new AbortController();
  const asked = request(`${base}/api/queues/agent-replies/retry/failed`, { method: 'PUT', headers: SIGNED_IN, signal: client.signal });
  setTimeout(() => client.abort(), 20);
  await t.rejects(asked, 'the client gave up');
  await eventually('the retry is logged once done', () => lines.some((l) => l['msg'] === 'board change' && l['retried'] === count), 20_000);
  t.ok(
    lines.some((l) => l['msg'] === 'board change: the client left before its answer; a change under way goes on'),
    'the client leaving is logged',
  );
  t.equal(await queue.getFailedCount(), 0, 'every job retried');
});
