import { type Config, loadConfig } from '@wxim/config';
import { LISTEN_BACKLOG } from '@wxim/host';
import { type Gateway, type GatewayOverrides, createGateway } from '@wxim/wechat-gateway';
import { WechatPlatform, type PushMode } from '@wxim/sandbox';
import { testPrefix } from './test-redis.js';

export const TOKEN = 'sandboxtoken';
export const APP_ID = 'wx0123456789abcdef';
export const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
export const APP_SECRET = '0123456789abcdef0123456789abcdef';

/** A test's WeChat settings against Redis at `redisUrl`, under a key prefix of its own. */
export function wechatTestEnv(redisUrl: string): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: testPrefix(),
    WECHAT_TOKEN: TOKEN,
    WECHAT_APP_ID: APP_ID,
    WECHAT_APP_SECRET: APP_SECRET,
    WECHAT_ENCODING_AES_KEY: AES_KEY,
  };
}

export interface RunningGateway {
  url: string;
  gateway: Gateway;
  config: Config;
  platform(mode?: PushMode): WechatPlatform;
  /** Jobs stored in wechat-inbound, in any state. */
  jobCount(): Promise<number>;
  close(): Promise<void>;
}

/** The real gateway over real HTTP on a free port, with a key prefix of its own. */
export async function startGateway(redisUrl: string, env: Record<string, string> = {}, overrides: GatewayOverrides = {}): Promise<RunningGateway> {
  const config = loadConfig({
    ...wechatTestEnv(redisUrl),
    LOG_LEVEL: 'warn',
    ...env,
  });
  const gateway = await createGateway(config, overrides);
  await gateway.app.listen({ host: '127.0.0.1', port: 0, backlog: LISTEN_BACKLOG });
  const { port } = gateway.app.server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    gateway,
    config,
    platform: (mode = 'plain') => new WechatPlatform({ gatewayUrl: url, token: TOKEN, appId: APP_ID, encodingAesKey: AES_KEY, mode }),
    jobCount: async () => {
      const counts = await gateway.queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'completed', 'failed');
      return Object.values(counts).reduce((a, b) => a + b, 0);
    },
    close: () => gateway.close(),
  };
}
