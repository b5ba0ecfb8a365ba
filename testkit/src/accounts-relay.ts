import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@wxim/config';
import { type Started, runServices } from '@wxim/host';
import { imCallbackService } from '@wxim/im-callback';
import { imWorkerService } from '@wxim/im-worker';
import { ImSimulator, type ImSimulatorOptions, WechatApiSimulator, WechatPlatform, fakeOpenId } from '@wxim/sandbox';
import { wechatGatewayService } from '@wxim/wechat-gateway';
import { wechatPusherService } from '@wxim/wechat-pusher';
import { eventually } from './eventually.js';
import { freePort } from './local-redis.js';
import { testPrefix } from './test-redis.js';

/** One Official Account of an accounts relay, with its own IM app (or the one it shares) and WeChat API. */
export interface TestAccount {
  id: string;
  appId: string;
  sdkAppId: number;
  agents: string[];
  im: ImSimulator;
  wechatApi: WechatApiSimulator;
  /** Its customers in WeChat: pushes signed with its token to /wechat/<id>. */
  wechat: WechatPlatform;
}

export interface AccountsRelay {
  accounts: TestAccount[];
  account(id: string): TestAccount;
  /** The key prefix of every account (each account's keys are under `<prefix>/<id>`). */
  prefix: string;
  ports: { gateway: number; callback: number; imWorker: number; pusher: number };
  gatewayUrl: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

const letters = (i: number, length: number) => String.fromCharCode(97 + (i % 26)).repeat(length);

/** The made-up credentials of the `i`th test account `id`: an Official Account and an IM app of its own (valid as the variables they stand for). */
export function testAccountCredentials(i: number, id: string) {
  return {
    appId: `wx0123456789${letters(i, 6)}`,
    token: `token${letters(i, 4)}`,
    aesKey: letters(i, 43),
    appSecret: letters(i, 32),
    sdkAppId: 1_400_000_100 + i,
    imKey: `${letters(i, 1)}${'0'.repeat(63)}`,
    agents: [`${id}_agent1`, `${id}_agent2`],
  };
}

/** An ACCOUNTS_FILE holding `accounts`, in a directory of its own: its path. */
export function writeAccountsFile(accounts: readonly unknown[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'wxim-accounts-')), 'accounts.json');
  writeFileSync(file, JSON.stringify({ accounts }));
  return file;
}

/**
 * The whole relay (gateway, im-worker, im-callback, wechat-pusher) in this process as `npm start`
 * runs it, with ACCOUNTS_FILE naming one account per id: each its own Official Account (its WeChat
 * API simulator) and IM app (its IM simulator calling im-callback back at /im/callback, told apart
 * by SdkAppid), unless `sharedIm` gives every account the first one's IM app.
 */
export async function startAccountsRelay(
  redisUrl: string,
  ids: readonly string[],
  options: { env?: Record<string, string>; sim?: Partial<ImSimulatorOptions>; sharedIm?: boolean } = {},
): Promise<AccountsRelay> {
  const ports = { gateway: await freePort(), callback: await freePort(), imWorker: await freePort(), pusher: await freePort() };
  const gatewayUrl = `http://127.0.0.1:${ports.gateway}`;
  const accounts: TestAccount[] = [];
  const entries: unknown[] = [];
  const imUrls: string[] = [];
  for (const [i, id] of ids.entries()) {
    const own = testAccountCredentials(i, id);
    const { appId, token, aesKey, appSecret: secret } = own;
    const shared = options.sharedIm === true && i > 0 ? accounts[0]! : undefined;
    const sdkAppId = shared?.sdkAppId ?? own.sdkAppId;
    const imKey = shared === undefined ? own.imKey : testAccountCredentials(0, accounts[0]!.id).imKey;
    const agents = shared?.agents ?? own.agents;
    const im = shared?.im ?? new ImSimulator({ sdkAppId, secretKey: imKey, agents, ...options.sim });
    const imUrl = shared === undefined ? await im.listen() : imUrls[0]!;
    imUrls.push(imUrl);
    const wechatApi = new WechatApiSimulator({ appId, secret });
    const wechatApiUrl = await wechatApi.listen();
    const wechat = new WechatPlatform({
      gatewayUrl,
      pushPath: `/wechat/${id}`,
      token,
      appId,
      encodingAesKey: aesKey,
      mode: 'safe',
      apiSimulatorUrl: wechatApiUrl,
    });
    accounts.push({ id, appId, sdkAppId, agents, im, wechatApi, wechat });
    entries.push({
      id,
      wechat: { appId, token, aesKey, appSecret: secret, apiBase: wechatApiUrl },
      im: { sdkAppId, secretKey: imKey, agents, callbackToken: shared === undefined ? `cb-${id}` : `cb-${accounts[0]!.id}`, apiBase: imUrl },
    });
  }
  const file = writeAccountsFile(entries);
  const prefix = testPrefix();
  const env = {
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    ACCOUNTS_FILE: file,
    GATEWAY_PORT: String(ports.gateway),
    CALLBACK_PORT: String(ports.callback),
    IM_WORKER_PORT: String(ports.imWorker),
    PUSHER_PORT: String(ports.pusher),
    AGENT_MAX_OPEN: '10000',
    WORKER_CONCURRENCY: '8',
    MEDIA_ALLOWED_HOSTS: '',
    LOG_LEVEL: 'silent',
    ...options.env,
  };
  const started: Started[] = await runServices(loadConfig(env), [wechatGatewayService, imCallbackService, imWorkerService, wechatPusherService]);
  for (const a of accounts) a.im.setCallback(`http://127.0.0.1:${ports.callback}/im/callback`, `cb-${options.sharedIm === true ? accounts[0]!.id : a.id}`);
  return {
    accounts,
    account: (id) => accounts.find((a) => a.id === id)!,
    prefix,
    ports,
    gatewayUrl,
    env,
    async close() {
      for (const kind of ['http', 'worker'] as const) for (const s of started.filter((s) => s.definition.kind === kind)) await s.service.close();
      for (const a of new Set(accounts.map((a) => a.im))) await a.close();
      for (const a of accounts) await a.wechatApi.close();
    },
  };
}

/** `count` pushes (`backlog <i>`) from `customers` new customers of `account`, `parallel` at a time; throws unless every one was acknowledged. */
export async function pushBacklog(account: TestAccount, count: number, customers: number, parallel = 50): Promise<string[]> {
  const openids = Array.from({ length: customers }, fakeOpenId);
  let next = 0;
  const statuses = new Set<number>();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let i = next++; i < count; i = next++) {
        statuses.add((await account.wechat.push(account.wechat.text(openids[i % customers]!, `backlog ${i}`))).status);
      }
    }),
  );
  if (statuses.size !== 1 || !statuses.has(200)) throw new Error(`the gateway answered ${[...statuses].join(', ')}`);
  return openids;
}

/** A customer of `account` writes; resolves once an agent of its IM app has the message: the customer's IM UserID and that agent. */
export async function accountCustomerWrites(account: TestAccount, openid: string, text: string): Promise<{ userId: string; agent: string }> {
  const res = await account.wechat.push(account.wechat.text(openid, text));
  if (res.status !== 200) throw new Error(`the gateway answered ${res.status}`);
  await eventually(`${text} reaches ${account.id}'s agent`, () => account.im.messages.some((m) => m.cloudCustomData?.includes(openid)));
  const m = account.im.messages.find((m) => m.cloudCustomData?.includes(openid))!;
  return { userId: m.from, agent: m.to };
}
