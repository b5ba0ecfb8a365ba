import { fileURLToPath } from 'node:url';
import { SANDBOX, sandboxEnv } from '@wxim/sandbox';
import { request } from 'undici';
import { type BenchRedis, type Proc, freePort, startImSimulator, startNode, startRedis } from './processes.js';

const entry = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** Redis, the IM simulator, wechat-gateway and im-worker, each its own process. */
export interface RelayStack {
  redis: BenchRedis;
  procs: Proc[];
  gatewayUrl: string;
  simUrl: string;
  workerUrl: string;
  /** Stops the im-worker (SIGTERM, as a deployment does). */
  stopWorker(): Promise<void>;
  /** Starts a new im-worker process in its place; resolves once it is ready. */
  startWorker(): Promise<void>;
}

/**
 * `lifted`: the simulator without IM's frequency limit and the relay's cap raised to match, for
 * runs that measure the relay's own capacity beyond what IM allows. Otherwise IM's real limit and
 * the relay's default IM_RATE_LIMIT.
 */
export async function startStack(imLimit: 'real' | 'lifted'): Promise<RelayStack> {
  const redis = await startRedis();
  const [simPort, gatewayPort, workerPort] = [await freePort(), await freePort(), await freePort()];
  const simUrl = `http://127.0.0.1:${simPort}`;
  const sim = await startImSimulator(simPort, imLimit === 'lifted' ? { SIM_RATE_LIMIT: 'off' } : {});
  const env = {
    REDIS_URL: redis.url,
    WECHAT_TOKEN: SANDBOX.token,
    WECHAT_APP_ID: SANDBOX.appId,
    WECHAT_ENCODING_AES_KEY: SANDBOX.encodingAesKey,
    ...sandboxEnv(simUrl),
    GATEWAY_PORT: String(gatewayPort),
    IM_WORKER_PORT: String(workerPort),
    ...(imLimit === 'lifted' ? { IM_RATE_LIMIT: '100000' } : {}),
    // Thousands of customers stand for a desk of many agents: the two sandbox agents' cap of open
    // conversations (AGENT_MAX_OPEN, 20 each) would make all but 40 wait. Lifted: the relay's pace is measured, not the desk's.
    AGENT_MAX_OPEN: '10000',
  };
  const workerUrl = `http://127.0.0.1:${workerPort}`;
  const startWorker = () => startNode('im-worker', entry('../../../services/im-worker/dist/main.js'), env, `${workerUrl}/readyz`);
  const gateway = await startNode('wechat-gateway', entry('../../../services/wechat-gateway/dist/main.js'), env, `http://127.0.0.1:${gatewayPort}/readyz`);
  const procs = [redis, sim, gateway, await startWorker()];
  return {
    redis,
    procs,
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    simUrl,
    workerUrl,
    async stopWorker() {
      await procs[3]!.stop();
    },
    async startWorker() {
      procs[3] = await startWorker();
    },
  };
}

export async function getJson<T>(url: string, method: 'GET' | 'PUT' | 'POST' = 'GET', body?: unknown): Promise<T> {
  const res = await request(url, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  return (await res.body.json()) as T;
}

export async function waitForMessages(simUrl: string, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await getJson<{ messages: number }>(`${simUrl}/sim/stats`);
    if (stats.messages >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${stats.messages} of ${count} messages reached the IM simulator`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A counter's value on the im-worker's /metrics (summed over its labels). */
export async function workerCounter(workerUrl: string, name: string): Promise<number> {
  const res = await request(`${workerUrl}/metrics`);
  const text = await res.body.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}
