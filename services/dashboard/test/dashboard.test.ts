import { loadConfig } from '@wxim/config';
import { dashboardService } from '@wxim/dashboard';
import { fakeOpenId } from '@wxim/sandbox';
import { eventually, relayForTests } from '@wxim/testkit';
import t from 'tap';
import { LOGIN, SIGNED_IN, boardOnLoopback } from './board-client.js';

const relay = await relayForTests(t);
const { im, wechat } = relay;

const board = (env: Record<string, string>) => boardOnLoopback(t, loadConfig({ REDIS_URL: relay.redisUrl, ...relay.env, ...env }));

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

t.test('the board is behind basic authentication; health and metrics are not', async (t) => {
  const { call } = await board(LOGIN);
  t.equal((await call('GET', '/api/queues', { headers: {} })).status, 401, 'no credentials');
  const wrong = { authorization: `Basic ${Buffer.from('ops:wrong').toString('base64')}` };
  t.equal((await call('GET', '/api/queues', { headers: wrong })).status, 401, 'a wrong password');
  t.equal((await call('GET', '/', { headers: {} })).status, 401, 'the page too');
  t.equal((await call('GET', '/healthz', { headers: {} })).status, 200);
  t.equal((await call('GET', '/metrics', { headers: {} })).status, 200);
  t.equal((await call('GET', '/')).status, 200, 'the page, signed in');
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

t.test('a read-only board shows but cannot retry', async (t) => {
  const { call } = await board({ ...LOGIN, DASHBOARD_READ_ONLY: '1' });
  t.equal((await call('PUT', `/api/queues/wechat-inbound/${encodeURIComponent(jobId)}/retry`)).status, 405);
  t.equal(await (await relay.worker.queue.getJob(jobId))?.getState(), 'failed', 'still failed');
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
});

t.test('without a password the board listens on loopback only', async (t) => {
  const open = loadConfig({ ...relay.env });
  t.equal(dashboardService.host?.(open), '127.0.0.1');
  t.equal(dashboardService.host?.(loadConfig({ ...relay.env, DASHBOARD_PASSWORD: 'x' })), '0.0.0.0');
});
