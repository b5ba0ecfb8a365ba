import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ReceivedMessage, SimulatorStats } from '@wxim/sandbox';
import { request } from 'undici';
import { eventually } from './eventually.js';
import { freePort } from './local-redis.js';
import { AGENTS, IM_APP_ID, IM_KEY } from './relay.js';

const MAIN = fileURLToPath(new URL('../../packages/sandbox/dist/im-simulator-main.js', import.meta.url));

/** The IM simulator in its own process, read over its /sim endpoints. */
export interface ImProcess {
  url: string;
  messages(): Promise<ReceivedMessage[]>;
  stats(): Promise<SimulatorStats>;
  callsPerSecond(): Promise<Record<string, [number, number][]>>;
  close(): Promise<void>;
}

async function get<T>(url: string): Promise<T> {
  const res = await request(url);
  return (await res.body.json()) as T;
}

export async function startImProcess(env: Record<string, string> = {}): Promise<ImProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env['PATH'] ?? '',
      SIM_PORT: String(port),
      SIM_SDK_APP_ID: String(IM_APP_ID),
      SIM_SECRET_KEY: IM_KEY,
      SIM_AGENTS: AGENTS.join(','),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((r) => child.once('exit', r));
  await eventually(
    'the IM simulator process answers',
    async () =>
      (await request(`${url}/healthz`)
        .then((r) => r.body.dump().then(() => r.statusCode))
        .catch(() => 0)) === 200,
    20_000,
    50,
  );
  return {
    url,
    messages: () => get(`${url}/sim/messages`),
    stats: () => get(`${url}/sim/stats`),
    callsPerSecond: () => get(`${url}/sim/pace`),
    async close() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
