import { SANDBOX, SANDBOX_SECOND, type SandboxAccount } from '@wxim/config';
import { decodeRelayCustomData } from '@wxim/im';
import { type DeliveredMessage, type ReceivedMessage, WechatPlatform, fakeOpenId } from '@wxim/sandbox';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import t from 'tap';
import { request } from 'undici';
import { eventually } from '@wxim/testkit';
import { openSandboxPage } from './sandbox-browser.js';

/**
 * `npm start` in sandbox mode runs two made-up Official Accounts, `default` and `second`, each
 * with an IM app of its own; the simulators play both apps on their one port each.
 */
const { page, ports, redisUrl, prefix } = await openSandboxPage(t);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const gateway = `http://127.0.0.1:${ports.gateway}`;
const imSim = `http://127.0.0.1:${ports.sandbox + 1}`;
const wechatSim = `http://127.0.0.1:${ports.sandbox + 2}`;

const json = async <T>(url: string, body?: object): Promise<T> => {
  const res = await request(url, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return (await res.body.json()) as T;
};
/** What an account's IM app holds, and what its Official Account delivered to customers. */
const inIm = (sdkAppId: number) => json<ReceivedMessage[]>(`${imSim}/sim/messages?sdkappid=${sdkAppId}`);
const sentBy = (appId: string) => json<DeliveredMessage[]>(`${wechatSim}/sim/sent?appid=${appId}`);
/** The customer a message in IM relays the words of. */
const customerOf = (m: ReceivedMessage) => {
  const data = decodeRelayCustomData(m.cloudCustomData);
  return data?.source === 'wechat' ? data.openid : undefined;
};
/** The account's Official Account as WeChat pushes for it: signed with its token, to its path. */
const wechatOf = (a: SandboxAccount, path = a.id === 'default' ? '/wechat' : `/wechat/${a.id}`) =>
  new WechatPlatform({
    gatewayUrl: gateway,
    pushPath: path,
    token: a.token,
    appId: a.appId,
    encodingAesKey: a.encodingAesKey,
    accountId: a.accountId,
    mode: 'safe',
    apiSimulatorUrl: wechatSim,
  });

t.test(
  "a customer of the second account reaches the second IM app's agent, and the agent's reply reaches that customer and no customer of default",
  async (t) => {
    const first = wechatOf({ id: 'default', ...SANDBOX });
    const second = wechatOf(SANDBOX_SECOND);
    const theirs = fakeOpenId();
    const ours = fakeOpenId();
    t.equal((await second.push(second.text(theirs, 'hello, second account'))).status, 200, 'the gateway took the push at /wechat/second');
    t.equal((await first.push(first.text(ours, 'hello, default account'))).status, 200, 'and a push of default at /wechat');

    await eventually("second's customer reaches an agent of second's IM app", async () =>
      (await inIm(SANDBOX_SECOND.imSdkAppId)).some((m) => customerOf(m) === theirs),
    );
    await eventually("default's customer reaches an agent of default's", async () => (await inIm(SANDBOX.imSdkAppId)).some((m) => customerOf(m) === ours));
    const secondIm = await inIm(SANDBOX_SECOND.imSdkAppId);
    const firstIm = await inIm(SANDBOX.imSdkAppId);
    const arrived = secondIm.find((m) => customerOf(m) === theirs)!;
    t.ok(SANDBOX_SECOND.imAgents.includes(arrived.to), `${arrived.to}, an agent of second's IM app, has it`);
    t.same(arrived.body[0]?.MsgContent['Text'], 'hello, second account');
    t.notOk(
      firstIm.some((m) => customerOf(m) === theirs),
      "default's IM app never saw second's customer",
    );
    t.notOk(
      secondIm.some((m) => customerOf(m) === ours),
      "nor second's default's",
    );

    // The agent answers in second's IM app, which calls im-callback (told apart by SdkAppid).
    const answer = await json<{ delivered?: boolean }>(`${imSim}/sim/agent-send?sdkappid=${SANDBOX_SECOND.imSdkAppId}`, {
      From_Account: arrived.to,
      To_Account: arrived.from,
      MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'hello from agent of second' } }],
    });
    t.equal(answer.delivered, true, 'im-callback took the callback of second’s IM app');
    await eventually("the reply reaches second's customer through second's Official Account", async () =>
      (await sentBy(SANDBOX_SECOND.appId)).some((m) => m.openid === theirs && m.payload['content'] === 'hello from agent of second'),
    );
    t.same(
      (await sentBy(SANDBOX_SECOND.appId)).map((m) => m.openid),
      [theirs],
      "second's Official Account sent to its customer only, once",
    );
    t.same(await sentBy(SANDBOX.appId), [], "default's Official Account sent nothing: its customer got no one else's reply");

    // Each account's keys are its own: second's under <prefix>-sandbox/second.
    const redis = new Redis(redisUrl);
    t.teardown(() => redis.disconnect());
    t.ok((await redis.keys(`${prefix}-sandbox/second:wechat-inbound:*`)).length > 0, "second's pushes went through its own queue");
    t.ok((await redis.keys(`${prefix}-sandbox:wechat-inbound:*`)).length > 0, "default's through the one it always had");
  },
);

t.test("a push of second's signed with its token is refused on default's path, and default's on second's: each account's token is its own", async (t) => {
  const misplaced = wechatOf(SANDBOX_SECOND, '/wechat');
  t.equal((await misplaced.push(misplaced.text(fakeOpenId(), 'wrong door'))).status, 401);
  const other = wechatOf({ id: 'default', ...SANDBOX }, '/wechat/second');
  t.equal((await other.push(other.text(fakeOpenId(), 'wrong door'))).status, 401);
  const board = await request(`http://127.0.0.1:${ports.dashboard}/accounts/second/`);
  t.equal(board.statusCode, 200, "second's queues have a board of their own on the dashboard");
  const uiConfig = (html: string) =>
    JSON.parse(/<script id="__UI_CONFIG__" type="application\/json">(.*?)<\/script>/s.exec(html)?.[1] ?? '{}') as { boardTitle?: string; miscLinks?: unknown };
  const secondBoard = uiConfig(await board.body.text());
  t.equal(secondBoard.boardTitle, 'WeChat ⇄ IM relay · second');
  t.same(secondBoard.miscLinks, [{ text: 'All accounts', url: '/accounts/' }], 'its header links back to the list of accounts');
  const defaultBoard = uiConfig(await (await request(`http://127.0.0.1:${ports.dashboard}/`)).body.text());
  t.same(defaultBoard.miscLinks, [{ text: 'All accounts', url: '/accounts/' }], "and so does default's");
  const list = await (await request(`http://127.0.0.1:${ports.dashboard}/accounts/`)).body.text();
  t.match(list, /<a href="\/">default<\/a>/, "the dashboard's list of accounts: default's board at the root");
  t.match(list, /<a href="\/accounts\/second\/">second<\/a>/, "and second's at its own path");
});

t.test("the page's account switch: second's customer, agents, chats and board, and back to default's", async (t) => {
  const account = page.getByLabel('Official Account');
  const customerChat = page.getByLabel('Customer chat');
  const agentChat = page.getByLabel('Agent chat');
  const agentPicker = page.getByLabel('Agent', { exact: true });
  const agentsOf = () => agentPicker.locator('option').allTextContents();

  t.equal(await account.inputValue(), 'default', 'the page opens on default');
  t.same(await agentsOf(), ['agent1', 'agent2']);
  await page.getByLabel('Customer message').fill('A question for default');
  await page.getByLabel('Customer message').press('Enter');
  await agentChat.locator('.from-customer', { hasText: 'A question for default' }).waitFor();
  const defaultCustomer = await page.evaluate<string>("localStorage.getItem('sandbox-openid')");

  await account.selectOption('second');
  t.same(await agentsOf(), ['agent3', 'agent4'], "the agent pane offers second's IM app's agents");
  await page.locator('#agent-account', { hasText: 'second' }).waitFor();
  for (const agent of ['agent3', 'agent4']) await page.getByLabel('Agents').locator(`[data-agent="${agent}"]`, { hasText: 'open conversation' }).waitFor();
  t.equal(await customerChat.locator('.msg').count(), 0, "second's customer is another person, who has written nothing yet");
  t.equal(await agentChat.locator('.msg').count(), 0, "and no agent of second's has a conversation with them");
  t.match(await page.getByRole('link', { name: /Queue dashboard/ }).getAttribute('href'), /\/accounts\/second\/$/, "the dashboard link opens second's board");

  await page.getByLabel('Customer message').fill('A question for second');
  await page.getByLabel('Customer message').press('Enter');
  await agentChat.locator('.from-customer', { hasText: 'A question for second' }).waitFor();
  const servedBy = await agentPicker.inputValue();
  t.ok(['agent3', 'agent4'].includes(servedBy), `an agent of second's serves them (${servedBy})`);
  await page.getByLabel('Agent reply').fill('Answer from second');
  await page.getByLabel('Agent reply').press('Enter');
  await customerChat.locator('.from-business', { hasText: 'Answer from second' }).waitFor();
  const secondCustomer = await page.evaluate<string>("localStorage.getItem('sandbox-openid:second')");
  t.not(secondCustomer, defaultCustomer);
  t.ok(
    (await sentBy(SANDBOX_SECOND.appId)).some((m) => m.openid === secondCustomer && m.payload['content'] === 'Answer from second'),
    "second's Official Account delivered the reply to second's customer",
  );

  await account.selectOption('default');
  t.same(await agentsOf(), ['agent1', 'agent2'], 'back on default: its agents');
  await customerChat.locator('.from-customer', { hasText: 'A question for default' }).waitFor();
  t.equal(await page.evaluate<string>("localStorage.getItem('sandbox-openid')"), defaultCustomer, "default's customer is the one it had");
  t.equal(await customerChat.getByText('second').count(), 0, "none of second's conversation shows on default's side");
  t.equal(await page.getByRole('link', { name: /Queue dashboard/ }).getAttribute('href'), `http://127.0.0.1:${ports.dashboard}/`);
  t.notOk(
    (await sentBy(SANDBOX.appId)).some((m) => m.payload['content'] === 'Answer from second'),
    "default's Official Account never sent second's reply",
  );
  t.equal(await page.locator('#problem').textContent(), '', 'no error shown');
});

t.test('npm run sandbox:push and sandbox:reply play second with --account second, and refuse an account sandbox mode does not run', async (t) => {
  const run = promisify(execFile);
  // The scripts find the sandbox's parts as npm start placed them: the same ports and Redis.
  const env = {
    ...process.env,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    GATEWAY_PORT: String(ports.gateway),
    SANDBOX_PORT: String(ports.sandbox),
    DASHBOARD_PORT: String(ports.dashboard),
    CALLBACK_PORT: String(ports.callback),
  };
  const script = (name: string, ...args: string[]) => run(process.execPath, [join(ROOT, `cli/dist/${name}.js`), ...args], { env, timeout: 30_000 });
  const openid = fakeOpenId();

  const pushed = await script('push', 'hello through the script', openid, '--account', 'second');
  t.match(
    pushed.stdout,
    new RegExp(`customer ${openid} of second sent "hello through the script": the gateway answered 200`),
    'the push script signed for second and the gateway took it at /wechat/second',
  );
  const agent = /agent (agent\d) received it in IM/.exec(pushed.stdout)?.[1];
  t.ok(agent !== undefined && SANDBOX_SECOND.imAgents.includes(agent), `an agent of second's IM app received it (${agent})`);
  t.ok(
    (await inIm(SANDBOX_SECOND.imSdkAppId)).some((m) => customerOf(m) === openid),
    "it is in second's IM app",
  );
  t.notOk(
    (await inIm(SANDBOX.imSdkAppId)).some((m) => customerOf(m) === openid),
    "and not in default's",
  );

  const replied = await script('reply', 'answer through the script', openid, '--account', 'second');
  t.match(replied.stdout, new RegExp(`customer ${openid} received it in WeChat`), 'the reply script saw it delivered');
  t.ok(
    (await sentBy(SANDBOX_SECOND.appId)).some((m) => m.openid === openid && m.payload['content'] === 'answer through the script'),
    "second's Official Account delivered it",
  );
  t.notOk(
    (await sentBy(SANDBOX.appId)).some((m) => m.payload['content'] === 'answer through the script'),
    "default's did not",
  );

  const wrong = await script('push', 'nobody', '--account', 'third').then(
    () => undefined,
    (err: { code?: number; stderr?: string }) => err,
  );
  t.equal(wrong?.code, 2, 'an account sandbox mode does not run ends the script with 2');
  t.match(wrong?.stderr, /--account: sandbox mode runs the accounts default and second, not "third"/, 'naming the ones it does');
});
