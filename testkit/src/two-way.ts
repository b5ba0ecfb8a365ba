import { loadConfig } from '@wxim/config';
import { LISTEN_BACKLOG } from '@wxim/host';
import { Redis } from 'ioredis';
import { type ImCallback, type ImCallbackOverrides, createImCallback } from '@wxim/im-callback';
import { type ImWorker, type ImWorkerOverrides, createImWorker } from '@wxim/im-worker';
import { type DeliveredMessage, ImSimulator, type ImSimulatorOptions, WechatApiSimulator, WechatPlatform, fakeOpenId } from '@wxim/sandbox';
import { type WechatPusher, type WechatPusherOverrides, createWechatPusher } from '@wxim/wechat-pusher';
import { APP_ID, APP_SECRET, AES_KEY, TOKEN, type RunningGateway, startGateway, wechatTestEnv } from './gateway.js';
import { AGENTS, IM_APP_ID, IM_KEY } from './relay.js';
import { eventually } from './eventually.js';
import { onTestRedis } from './test-redis.js';

export const CALLBACK_TOKEN = 'testcallbacktoken';

export interface TwoWayRelay {
  gateway: RunningGateway;
  worker: ImWorker;
  callback: ImCallback;
  callbackUrl: string;
  pusher: WechatPusher;
  im: ImSimulator;
  wechatApi: WechatApiSimulator;
  /** A customer in WeChat: pushes reach the gateway, and the WeChat API simulator knows what they did. */
  wechat: WechatPlatform;
  env: Record<string, string>;
  /** A customer writes and their message reaches an agent: resolves to that agent. */
  customerWrites(openid: string, text: string): Promise<string>;
  /** A new customer who wrote: their openid, their IM UserID and the agent they reached. */
  newCustomer(): Promise<{ openid: string; userId: string; agent: string }>;
  /** The texts custom/send delivered to `openid` so far, in order. */
  textsTo: (openid: string) => unknown[];
  /** Waits until `count` messages reached `openid` through custom/send. */
  waitForSent(openid: string, count: number, timeoutMs?: number): Promise<DeliveredMessage[]>;
  /** Pusher options for another pusher of the same fleet. */
  startPusher(overrides?: WechatPusherOverrides): Promise<WechatPusher>;
  close(): Promise<void>;
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Both directions in this process, over real HTTP and a real Redis: the gateway and im-worker
 * (customer → agent), im-callback and wechat-pusher (agent → customer), the IM simulator calling
 * im-callback back, and the WeChat API simulator with its window and quota rules on.
 */
export async function startTwoWay(
  redisUrl: string,
  options: {
    env?: Record<string, string>;
    pusher?: WechatPusherOverrides;
    callback?: ImCallbackOverrides;
    worker?: ImWorkerOverrides;
    startPusher?: boolean;
    sim?: Partial<ImSimulatorOptions>;
  } = {},
): Promise<TwoWayRelay> {
  const im = new ImSimulator({ sdkAppId: IM_APP_ID, secretKey: IM_KEY, agents: AGENTS, ...options.sim });
  const imUrl = await im.listen();
  const wechatApi = new WechatApiSimulator({ appId: APP_ID, secret: APP_SECRET });
  const wechatApiUrl = await wechatApi.listen();
  const env = {
    ...wechatTestEnv(redisUrl),
    WECHAT_API_BASE: wechatApiUrl,
    IM_SDK_APP_ID: String(IM_APP_ID),
    IM_SECRET_KEY: IM_KEY,
    IM_AGENTS: AGENTS.join(','),
    IM_API_BASE: imUrl,
    // Relay tests write as many customers as they like; the desk's cap has tests of its own.
    AGENT_MAX_OPEN: '10000',
    IM_CALLBACK_TOKEN: CALLBACK_TOKEN,
    MEDIA_ALLOWED_HOSTS: '',
    WORKER_CONCURRENCY: '8',
    LOG_LEVEL: 'silent',
    ...options.env,
  };
  const config = loadConfig(env);
  const gateway = await startGateway(redisUrl, env);
  const worker = await createImWorker(config, { backoffBaseMs: 50, waitMs: 2000, imTimeoutMs: 1000, ...options.worker });
  worker.start();
  const callback = await createImCallback(config, options.callback);
  await callback.app.listen({ host: '127.0.0.1', port: 0, backlog: LISTEN_BACKLOG });
  const callbackUrl = `http://127.0.0.1:${(callback.app.server.address() as { port: number }).port}/im/callback`;
  im.setCallback(callbackUrl, CALLBACK_TOKEN);
  callback.start();
  const pushers: WechatPusher[] = [];
  const startPusher = async (overrides: WechatPusherOverrides = {}) => {
    // A reply not in IM's history is looked for again for about a second (five in production).
    const pusher = await createWechatPusher(config, {
      backoffBaseMs: 50,
      waitMs: 2000,
      wechatTimeoutMs: 1000,
      confirmLooksAgainAfterMs: [100, 200, 300, 400],
      ...options.pusher,
      ...overrides,
    });
    pusher.start();
    pushers.push(pusher);
    return pusher;
  };
  const pusher =
    options.startPusher === false
      ? await createWechatPusher(config, { backoffBaseMs: 50, confirmLooksAgainAfterMs: [100, 200, 300, 400], ...options.pusher })
      : await startPusher();
  if (options.startPusher === false) pushers.push(pusher);
  const wechat = new WechatPlatform({
    gatewayUrl: gateway.url,
    token: TOKEN,
    appId: APP_ID,
    encodingAesKey: AES_KEY,
    mode: 'safe',
    apiSimulatorUrl: wechatApiUrl,
  });
  const customerWrites = async (openid: string, text: string): Promise<string> => {
    const before = im.messages.length;
    const res = await wechat.push(wechat.text(openid, text));
    if (res.status !== 200) throw new Error(`the gateway answered ${res.status}`);
    await until('the customer message reaches an agent', () => im.messages.slice(before).some((m) => m.cloudCustomData?.includes(openid)), 10_000);
    return im.messages.slice(before).find((m) => m.cloudCustomData?.includes(openid))!.to;
  };
  return {
    gateway,
    worker,
    callback,
    callbackUrl,
    pusher,
    im,
    wechatApi,
    wechat,
    env,
    customerWrites,
    async newCustomer() {
      const openid = fakeOpenId();
      const agent = await customerWrites(openid, 'hello');
      const userId = im.messages.find((m) => m.cloudCustomData?.includes(openid))!.from;
      return { openid, userId, agent };
    },
    textsTo: (openid) => wechatApi.sentTo(openid).map((m) => m.payload['content']),
    async waitForSent(openid, count, timeoutMs = 15_000) {
      await until(`${count} messages reach ${openid}`, () => wechatApi.sentTo(openid).length >= count, timeoutMs);
      return wechatApi.sentTo(openid);
    },
    startPusher,
    async close() {
      await callback.close();
      await gateway.close();
      for (const p of pushers) await p.close();
      await worker.close();
      await im.close();
      await wechatApi.close();
    },
  };
}

/** A Redis and a two-way relay for one test file, both ended when the file's tests are done. */
export async function twoWayForTests(
  t: { teardown(fn: () => Promise<void>): void },
  options: Parameters<typeof startTwoWay>[1] = {},
): Promise<TwoWayRelay & { redisUrl: string }> {
  return onTestRedis(t, (url) => startTwoWay(url, options));
}

/**
 * Both directions on `redisUrl` for a test of the desk, closed when `t` ends: resolves once
 * im-callback takes IM's callbacks (an agent's state sent before would be refused).
 */
export async function deskRelayForTests(
  t: { teardown(fn: () => Promise<void>): void },
  redisUrl: string,
  options: Parameters<typeof startTwoWay>[1] = {},
): Promise<TwoWayRelay> {
  const relay = await startTwoWay(redisUrl, options);
  t.teardown(() => relay.close());
  await eventually('im-callback is ready', async () => (await relay.callback.app.inject('/readyz')).statusCode === 200);
  return relay;
}

/**
 * Both directions (see twoWayForTests) with the callback sweeps run only when a test calls
 * `sweep.runIfDue` (period 1 s, settle 300 ms unless `callback` says otherwise), and a Redis client
 * of the test's own, closed when `t` ends.
 */
export async function sweptByHandForTests(
  t: { teardown(fn: () => Promise<void> | void): void },
  callback: ImCallbackOverrides = {},
): Promise<{ relay: TwoWayRelay & { redisUrl: string }; sweep: ImCallback['sweep']; redis: Redis }> {
  const relay = await twoWayForTests(t, { env: { CALLBACK_SWEEP_MS: '1000' }, callback: { sweepSettleMs: 300, ...callback } });
  await relay.callback.sweep.stop();
  // im-callback's connection fails commands until it is up (IM is answered at once): a sweep run by
  // hand before then would fail on its lock.
  await eventually('im-callback reaches Redis', async () => (await relay.callback.app.inject('/readyz')).statusCode === 200);
  const redis = new Redis(relay.redisUrl);
  t.teardown(() => redis.disconnect());
  return { relay, sweep: relay.callback.sweep, redis };
}
