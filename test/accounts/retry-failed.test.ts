import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { textElem } from '@wxim/im';
import { fakeOpenId } from '@wxim/sandbox';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import t from 'tap';
import { accountCustomerWrites, eventually, startAccountsRelay, startTestRedis, textOf } from '@wxim/testkit';

// `npm run retry-failed` with ACCOUNTS_FILE, as the runbook has an operator run it after an alert
// about one account's failed relays: every account's failed jobs, or one account's, by its id.
const redis = await startTestRedis();
t.teardown(() => redis.close());
const relay = await startAccountsRelay(redis.url, ['one', 'two']);
t.teardown(() => relay.close());
const two = relay.account('two');
const retryFailed = fileURLToPath(new URL('../../cli/dist/retry-failed.js', import.meta.url));
const client = new Redis(redis.url);
t.teardown(() => client.disconnect());
const queueTwo = new Queue('wechat-inbound', { connection: client, prefix: `${relay.prefix}/two` });
t.teardown(() => queueTwo.close());

/** The CLI as the runbook runs it: the deployment's Redis settings and accounts file, nothing else. */
async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { PATH: process.env['PATH'] ?? '', REDIS_URL: redis.url, QUEUE_PREFIX: relay.env['QUEUE_PREFIX']!, ACCOUNTS_FILE: relay.env['ACCOUNTS_FILE']! };
  return promisify(execFile)(process.execPath, [retryFailed, ...args], { env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );
}

/** A message of account two's customer that IM refuses for good (content security): its failed job's id. */
async function failedInTwo(text: string): Promise<string> {
  const openid = fakeOpenId();
  two.im.failNext('openim/sendmsg', 80001, 1, 'content security');
  const push = two.wechat.text(openid, text);
  const { status } = await two.wechat.push(push);
  if (status !== 200) throw new Error(`the gateway answered ${status}`);
  const jobId = `m-${openid}-${push.kind === 'text' ? push.msgId : ''}`;
  await eventually(`${text} has failed for good`, async () => (await queueTwo.getJob(jobId))?.isFailed() ?? false);
  return jobId;
}
const repliesTwo = new Queue<{ openid: string }>('agent-replies', { connection: client, prefix: `${relay.prefix}/two` });
t.teardown(() => repliesTwo.close());
const relayedToTwo = (text: string) => two.im.messages.filter((m) => textOf(m) === text).length;

t.test("without --account: every account's failed jobs, each account named", async (t) => {
  const jobId = await failedInTwo('failed in account two');
  t.equal(relayedToTwo('failed in account two'), 0);
  const { code, stdout } = await run();
  t.equal(code, 0);
  t.match(stdout, /^retried 0 failed jobs of wechat-inbound \(account one\)\nretried 1 failed job of wechat-inbound \(account two\)\n$/);
  await eventually('the retried job completes', async () => (await queueTwo.getJob(jobId))?.isCompleted() ?? false);
  t.equal(relayedToTwo('failed in account two'), 1, "account two's agent has it, once");
});

t.test('--account <id> with job ids: those jobs of that account', async (t) => {
  const [a, b] = [await failedInTwo('first of two failed'), await failedInTwo('second of two failed')];
  const { code, stdout } = await run('--account', 'two', a);
  t.equal(code, 0);
  t.equal(stdout, 'retried 1 failed job of wechat-inbound (account two)\n');
  await eventually('the named job completes', async () => (await queueTwo.getJob(a))?.isCompleted() ?? false);
  t.ok(await (await queueTwo.getJob(b))?.isFailed(), 'the other stays failed');
  t.equal((await run('--account', 'two')).stdout, 'retried 1 failed job of wechat-inbound (account two)\n', 'then every failed job of the account');
  await eventually('it completes too', async () => (await queueTwo.getJob(b))?.isCompleted() ?? false);
});

t.test('a job id that names no failed job is said on stderr, and the tool exits 1', async (t) => {
  const { code, stdout, stderr } = await run('--account', 'two', 'no-such-job');
  t.equal(code, 1);
  t.equal(stdout, 'retried 0 failed jobs of wechat-inbound (account two)\n');
  t.equal(stderr, 'not retried: no-such-job (account two): no such job in wechat-inbound\n');
});

t.test('a Redis out of reach: one line naming where it looked, exit 78, nothing else', async (t) => {
  const env = { PATH: process.env['PATH'] ?? '', REDIS_URL: 'redis://:a-secret@127.0.0.1:1', QUEUE_PREFIX: relay.env['QUEUE_PREFIX']! };
  const { code, stdout, stderr } = await promisify(execFile)(process.execPath, [retryFailed], { env }).then(
    (r) => ({ code: 0, ...r }),
    (err: { code: number; stdout: string; stderr: string }) => err,
  );
  t.equal(code, 78);
  t.equal(stdout, '');
  t.match(stderr, /^retry-failed: configuration error: REDIS_URL reaches no Redis within 5 s \(127\.0\.0\.1:1\): .*\n$/);
  t.notMatch(stderr, /a-secret/, 'never its password');
});

t.test('an account that is not in the file, or job ids without an account: one clear line, nothing retried', async (t) => {
  const jobId = await failedInTwo('stays failed');
  const unknown = await run('--account', 'three');
  t.equal(unknown.code, 78);
  t.equal(unknown.stderr, 'retry-failed: configuration error: --account names no account here ("three"): one of one, two\n');
  const noAccount = await run(jobId);
  t.equal(noAccount.code, 78);
  t.equal(noAccount.stderr, 'retry-failed: configuration error: job ids name no account: --account <id> before them, one of one, two\n');
  t.equal(unknown.stdout + noAccount.stdout, '', 'nothing retried');
  t.ok(await (await queueTwo.getJob(jobId))?.isFailed(), 'the job is still failed');
});

t.test("--queue agent-replies: an account's failed replies, once the customer can be answered again", async (t) => {
  const openid = fakeOpenId();
  const { agent, userId } = await accountCustomerWrites(two, openid, 'a question');
  // 48 hours later: the reply window has closed, and the reply fails for good.
  await client.hset(`${relay.prefix}/two:reply-window:${openid}`, 'deadline', String(Date.now() - 1000));
  await two.im.agentSend(agent, userId, [textElem('the late answer')]);
  await eventually('the reply has failed for good', async () => (await repliesTwo.getFailed()).some((j) => j.data.openid === openid));
  t.same(two.wechatApi.sentTo(openid), []);
  // The customer writes again: the window is open, and the operator retries the reply.
  await accountCustomerWrites(two, openid, 'still there?');
  const { code, stdout } = await run('--queue', 'agent-replies', '--account', 'two');
  t.equal(code, 0);
  t.equal(stdout, 'retried 1 failed job of agent-replies (account two)\n');
  await eventually('the retried reply reaches the customer', () => two.wechatApi.sentTo(openid).length > 0);
  t.same(
    two.wechatApi.sentTo(openid).map((m) => m.payload['content']),
    ['the late answer'],
    'once',
  );
  const bad = await run('--queue', 'nope');
  t.equal(bad.code, 78);
  t.equal(bad.stderr, 'retry-failed: configuration error: --queue names no queue of the relay ("nope"): one of wechat-inbound, agent-replies\n');
});
