import { fileURLToPath } from 'node:url';
import { eventually } from './eventually.js';
import { freePort, freePortRun } from './local-redis.js';
import { type ServiceProcess, runService } from './service-process.js';

const LAUNCHER = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));

export interface LauncherPorts {
  gateway: number;
  callback: number;
  dashboard: number;
  imWorker: number;
  pusher: number;
  /** The sandbox page; the IM simulator is on the next port, the WeChat API simulator on the one after. */
  sandbox: number;
}

export interface LaunchedRelay extends ServiceProcess {
  ports: LauncherPorts;
}

/**
 * `npm start` as a user runs it (cli/dist/main.js) on free ports, in sandbox mode unless `env`
 * says otherwise; resolves once it has printed its guide.
 */
export async function launchRelay(env: Record<string, string>): Promise<LaunchedRelay> {
  // Each port free a moment ago is closed again before the next is asked for, so the system may
  // hand the same one out twice: every port here is distinct.
  const taken = new Set<number>();
  const distinct = async (get: () => Promise<number>, span = 1): Promise<number> => {
    for (;;) {
      const first = await get();
      const run = Array.from({ length: span }, (_, i) => first + i);
      if (run.some((p) => taken.has(p))) continue;
      for (const p of run) taken.add(p);
      return first;
    }
  };
  const ports: LauncherPorts = {
    gateway: await distinct(freePort),
    callback: await distinct(freePort),
    dashboard: await distinct(freePort),
    imWorker: await distinct(freePort),
    pusher: await distinct(freePort),
    sandbox: await distinct(() => freePortRun(3), 3),
  };
  const proc = runService(LAUNCHER, {
    GATEWAY_PORT: String(ports.gateway),
    CALLBACK_PORT: String(ports.callback),
    DASHBOARD_PORT: String(ports.dashboard),
    IM_WORKER_PORT: String(ports.imWorker),
    PUSHER_PORT: String(ports.pusher),
    SANDBOX_PORT: String(ports.sandbox),
    LOG_LEVEL: 'warn',
    ...env,
  });
  try {
    await eventually(
      'the relay has started',
      () => {
        if (proc.child.exitCode !== null) throw new Error(`the relay exited with ${proc.child.exitCode}: ${proc.output().stderr}`);
        return proc.output().stdout.includes('npm run sandbox:reply');
      },
      20_000,
      50,
    );
  } catch (err) {
    proc.child.kill('SIGKILL');
    throw err;
  }
  return { ...proc, ports };
}
