import { loadConfig } from '@wxim/config';
import { type ImWorker, type ImWorkerOverrides, createImWorker } from '@wxim/im-worker';
import { ImSimulator, type ImSimulatorOptions, type ReceivedMessage, type WechatPlatform } from '@wxim/sandbox';
import { APP_ID, AES_KEY, TOKEN, type RunningGateway, startGateway } from './gateway.js';
import { onTestRedis, testPrefix } from './test-redis.js';

export const IM_APP_ID = 1400000042;
export const IM_KEY = 'testsecretkey000000000000000000000000000000000000000000000000000';
export const AGENTS = ['agent_a', 'agent_b', 'agent_c'];

export interface RunningRelay {
  gateway: RunningGateway;
  worker: ImWorker;
  im: ImSimulator;
  imUrl: string;
  wechat: WechatPlatform;
  env: Record<string, string>;
  /** Waits until `count` messages have reached IM (or throws after `timeoutMs`). */
  waitForMessages(count: number, timeoutMs?: number): Promise<ReceivedMessage[]>;
  close(): Promise<void>;
}

/** Gateway, im-worker and the IM simulator in this process, over real HTTP and a real Redis. */
export async function startRelay(
  redisUrl: string,
  options: { env?: Record<string, string>; sim?: Partial<ImSimulatorOptions>; worker?: ImWorkerOverrides; startWorker?: boolean } = {},
): Promise<RunningRelay> {
  const im = new ImSimulator({ sdkAppId: IM_APP_ID, secretKey: IM_KEY, agents: AGENTS, ...options.sim });
  const imUrl = await im.listen();
  const env = {
    QUEUE_PREFIX: testPrefix(),
    IM_SDK_APP_ID: String(IM_APP_ID),
    IM_SECRET_KEY: IM_KEY,
    IM_AGENTS: AGENTS.join(','),
    IM_API_BASE: imUrl,
    // Relay tests write as many customers as they like; the desk's cap has tests of its own.
    AGENT_MAX_OPEN: '10000',
    WORKER_CONCURRENCY: '8',
    LOG_LEVEL: 'silent',
    ...options.env,
  };
  const gateway = await startGateway(redisUrl, env);
  const config = loadConfig({ REDIS_URL: redisUrl, WECHAT_TOKEN: TOKEN, WECHAT_APP_ID: APP_ID, WECHAT_ENCODING_AES_KEY: AES_KEY, ...env });
  const worker = await createImWorker(config, { backoffBaseMs: 50, waitMs: 2000, imTimeoutMs: 1000, ...options.worker });
  if (options.startWorker !== false) worker.start();
  return {
    gateway,
    worker,
    im,
    imUrl,
    wechat: gateway.platform('safe'),
    env,
    async waitForMessages(count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (im.messages.length < count) {
        if (Date.now() > deadline) throw new Error(`only ${im.messages.length} of ${count} messages reached IM within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return im.messages;
    },
    async close() {
      await worker.close();
      await gateway.close();
      await im.close();
    },
  };
}

export function textOf(m: ReceivedMessage): string {
  const first = m.body[0];
  return first?.MsgType === 'TIMTextElem' ? String(first.MsgContent['Text']) : `<${first?.MsgType}>`;
}

/** A Redis and a relay for one test file, both ended when the file's tests are done. */
export async function relayForTests(
  t: { teardown(fn: () => Promise<void>): void },
  options: Parameters<typeof startRelay>[1] = {},
): Promise<RunningRelay & { redisUrl: string }> {
  return onTestRedis(t, (url) => startRelay(url, options));
}
