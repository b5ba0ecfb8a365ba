import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'undici';
import { eventually } from './eventually.js';

export interface ServiceProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): { stdout: string; stderr: string };
}

/** A service's built entry point as its own process, with only `env` (and PATH) and `args`, its output kept. */
export function runService(entry: string, env: Record<string, string>, args: readonly string[] = []): ServiceProcess {
  const child = spawn(process.execPath, [entry, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ stderr, stdout }) };
}

/** Resolves once a service on `port` answers /readyz with 200; throws if `child` exits first. */
export async function whenReady(port: number, child?: ChildProcess, timeoutMs = 20_000): Promise<void> {
  await eventually(
    `the service on port ${port} is ready`,
    async () => {
      if (child !== undefined && child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}`);
      const res = await request(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      await res?.body.dump();
      return res?.statusCode === 200;
    },
    timeoutMs,
    50,
  );
}

/** The variable that sets each service's listen port, by the service's name. */
export const PORT_VARIABLE: Readonly<Record<string, string>> = {
  'wechat-gateway': 'GATEWAY_PORT',
  'im-callback': 'CALLBACK_PORT',
  dashboard: 'DASHBOARD_PORT',
  'im-worker': 'IM_WORKER_PORT',
  'wechat-pusher': 'PUSHER_PORT',
};
