import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@wxim/config';
import { dashboardService } from '@wxim/dashboard';
import { REQUEST_TIME_LIMIT_MS, buildForAccounts } from '@wxim/host';
import { QUEUES } from '@wxim/queue';
import { startTestRedis, testPrefix } from '@wxim/testkit';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import t from 'tap';
import { chromium } from 'playwright-core';
import { Agent, request } from 'undici';
import { LOGIN, SIGNED_IN } from './board-client.js';

// The dashboard with ACCOUNTS_FILE: a board per account at /accounts/<account>/, each over its
// account's queues only; one /metrics with an account label.
const redis = await startTestRedis();
const client = new Redis(redis.url);
const prefix = testPrefix();
const file = join(mkdtempSync(join(tmpdir(), 'wxim-board-')), 'accounts.yaml');
writeFileSync(
  file,
  ['brand-a', 'brand-b']
    .map((id, i) => `  - id: ${id}\n    wechat: { token: token${'ab'[i]!.repeat(4)} }\n    im: { sdkAppId: ${1400000100 + i}, agents: [${id}_agent] }\n`)
    .join('')
    .replace(/^/, 'accounts:\n'),
);
const config = loadConfig({ REDIS_URL: redis.url, QUEUE_PREFIX: prefix, ACCOUNTS_FILE: file, LOG_LEVEL: 'silent', ...LOGIN });
const board = await buildForAccounts(dashboardService, config, { processMetrics: false });
await board.app.listen({ host: '127.0.0.1', port: 0 });
const origin = `http://127.0.0.1:${(board.app.server.address() as { port: number }).port}`;
t.teardown(async () => {
  await board.close();
  client.disconnect();
  await redis.close();
});

async function get(path: string, headers: Record<string, string> = SIGNED_IN): Promise<{ status: number; text: string; framing: unknown[] }> {
  const res = await request(`${origin}${path}`, { headers });
  return { status: res.statusCode, text: await res.body.text(), framing: [res.headers['x-frame-options'], res.headers['content-security-policy']] };
}

t.test("the front's server has the request time limit the services' own have", async (t) => {
  t.equal(board.app.server.requestTimeout, REQUEST_TIME_LIMIT_MS);
  t.equal(board.app.server.headersTimeout, REQUEST_TIME_LIMIT_MS);
});

t.test('no other site may frame the list or a board behind the front', async (t) => {
  for (const path of ['/accounts/', '/accounts/brand-a/', '/accounts/brand-a/api/queues'])
    t.same((await get(path)).framing, ['DENY', "frame-ancestors 'none'"], path);
  t.same((await get('/accounts/', {})).framing, ['DENY', "frame-ancestors 'none'"], 'the login asked for too');
});

t.test("each account's board, over its own queues, behind the one login", async (t) => {
  const queue = new Queue(QUEUES.wechatInbound, { connection: client, prefix: `${prefix}/brand-b` });
  await queue.add('a push', { hello: 'b' }, { jobId: 'only-in-b' });
  await queue.close();
  const page = await get('/accounts/brand-b/');
  t.equal(page.status, 200);
  t.match(page.text, 'WeChat ⇄ IM relay · brand-b', 'titled with its account');
  t.match(page.text, '/accounts/brand-b/', 'its links under its own path');
  const b = JSON.parse((await get('/accounts/brand-b/api/queues')).text) as { queues: { name: string; counts: Record<string, number> }[] };
  const a = JSON.parse((await get('/accounts/brand-a/api/queues')).text) as { queues: { name: string; counts: Record<string, number> }[] };
  const waiting = (q: typeof a) => q.queues.find((x) => x.name === QUEUES.wechatInbound)!.counts['waiting'];
  t.equal(waiting(b), 1, "brand-b's push on brand-b's board");
  t.equal(waiting(a), 0, "and not on brand-a's");
  t.equal((await get('/accounts/brand-a/api/queues', {})).status, 401, 'the login still asked');
  t.equal((await get('/accounts/brand-z/')).status, 404, 'an account not in the file');
});

t.test('the list of accounts: each with a link to its board and its queues at a glance, behind the login', async (t) => {
  // brand-a: one reply failed for good, one waiting.
  const connection = { connection: client, prefix: `${prefix}/brand-a` };
  const replies = new Queue(QUEUES.agentReplies, connection);
  await replies.add('a reply', { hello: 'a' }, { jobId: 'a-failed-reply', attempts: 1 });
  const workerRedis = new Redis(redis.url, { maxRetriesPerRequest: null });
  const worker = new Worker(
    QUEUES.agentReplies,
    async () => {
      throw new Error('refused');
    },
    { ...connection, connection: workerRedis },
  );
  await new Promise((resolve) => worker.once('failed', resolve));
  await worker.close();
  workerRedis.disconnect();
  await replies.add('a reply', { hello: 'a' }, { jobId: 'a-reply' });
  await replies.close();
  const list = await get('/accounts/');
  t.equal(list.status, 200);
  const rows = [...list.text.matchAll(/<tr><td><a href="([^"]+)">([^<]+)<\/a><\/td>((?:<td[^>]*>[^<]*<\/td>){4})/g)].map((m) => ({
    href: m[1],
    account: m[2],
    counts: [...m[3]!.matchAll(/>(\d+)</g)].map((c) => Number(c[1])),
  }));
  t.same(
    rows,
    [
      // wechat-inbound waiting, failed; agent-replies waiting, failed
      { href: '/accounts/brand-a/', account: 'brand-a', counts: [0, 0, 1, 1] },
      { href: '/accounts/brand-b/', account: 'brand-b', counts: [1, 0, 0, 0] },
    ],
    "each account's link and its own queues",
  );
  t.equal((await get('/accounts')).text, list.text, 'also without the slash');
  t.equal((await get('/')).text, list.text, 'the root, with no `default` account: the list');
  const anonymous = await get('/accounts/', {});
  t.equal(anonymous.status, 401, 'the login asked');
  t.notMatch(anonymous.text, 'brand-a', 'and nothing listed without it');
  t.equal((await get('/accounts/brand-a/counts.json')).status, 200, "each account's counts, from its own board");
});

t.test('in a browser: the list links to each board, which opens over its own queues', async (t) => {
  const browser = await chromium.launch({ executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  const context = await browser.newContext({ httpCredentials: { username: LOGIN.DASHBOARD_USER, password: LOGIN.DASHBOARD_PASSWORD } });
  const page = await context.newPage();
  await page.goto(`${origin}/`);
  t.equal(await page.locator('h1').textContent(), 'Official Accounts', 'the root lists the accounts');
  await page.getByRole('link', { name: 'brand-b', exact: true }).click();
  await page.waitForURL(`${origin}/accounts/brand-b/`);
  await page.getByText('WeChat ⇄ IM relay · brand-b').first().waitFor({ timeout: 15_000 });
  t.pass("brand-b's board, titled with its id");
  // The board's header menu leads back to the list.
  await page.locator('header ul li').last().locator('button').click();
  await page.getByText('All accounts', { exact: true }).click();
  await page.waitForURL(`${origin}/accounts/`);
  t.equal(await page.locator('h1').textContent(), 'Official Accounts', "the board's header menu leads back to the list of accounts");
  await page
    .getByRole('row', { name: /brand-a/ })
    .getByRole('link', { name: 'desk' })
    .click();
  await page.waitForURL(`${origin}/accounts/brand-a/desk`);
  t.equal(await page.locator('h1').textContent(), 'Desk', "and brand-a's desk");
});

t.test("one /metrics, every account's queues labelled", async (t) => {
  const metrics = (await get('/metrics', {})).text;
  t.match(metrics, /^wxim_queue_jobs\{account="brand-b",queue="wechat-inbound",state="waiting"\} 1$/m);
  t.match(metrics, /^wxim_queue_jobs\{account="brand-a",queue="wechat-inbound",state="waiting"\} 0$/m);
});

t.test('with a `default` account beside the file: the root stays its board, and the list links it there', async (t) => {
  const withDefault = loadConfig({
    REDIS_URL: redis.url,
    QUEUE_PREFIX: prefix,
    ACCOUNTS_FILE: file,
    WECHAT_TOKEN: 'tokendflt',
    IM_SDK_APP_ID: '1400000199',
    LOG_LEVEL: 'silent',
    ...LOGIN,
  });
  const both = await buildForAccounts(dashboardService, withDefault, { processMetrics: false });
  t.teardown(() => both.close());
  const root = await both.app.inject({ url: '/', headers: SIGNED_IN });
  t.match(root.body, /<title>WeChat ⇄ IM relay<\/title>|"boardTitle":"WeChat ⇄ IM relay"/, "the root: `default`'s board, as without the file");
  t.notMatch(root.body, 'Official Accounts');
  const list = await both.app.inject({ url: '/accounts/', headers: SIGNED_IN });
  t.match(list.body, '<a href="/">default</a>', '`default` listed, linked to the root');
  t.match(list.body, '<a href="/accounts/brand-b/">brand-b</a>');
});

t.test("one password opens every account's board: a client's failed logins count across them all", async (t) => {
  // From an address of its own (any of 127.0.0.0/8), so that the other tests' client is not held back.
  const from = new Agent({ localAddress: '127.0.0.7' });
  t.teardown(() => from.close());
  const guess = { authorization: `Basic ${Buffer.from('ops:a-guess').toString('base64')}` };
  const status = async (path: string, headers: Record<string, string>) => {
    const res = await request(`${origin}${path}`, { headers, dispatcher: from });
    await res.body.dump();
    return res.statusCode;
  };
  const guesses = [];
  for (const account of ['brand-a', 'brand-b', 'brand-a', 'brand-b', 'brand-a']) guesses.push(await status(`/accounts/${account}/api/queues`, guess));
  t.same(guesses, [401, 401, 401, 401, 401], 'five guesses, spread over two boards');
  t.equal(await status('/accounts/brand-b/api/queues', guess), 429, 'the sixth, on either board, is held back');
  t.equal(await status('/accounts/brand-b/api/queues', SIGNED_IN), 429, 'the right password too, for that client');
  t.equal((await get('/accounts/brand-b/api/queues')).status, 200, 'another client is not held back');
});
