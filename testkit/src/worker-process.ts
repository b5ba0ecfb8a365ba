import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { whenReady } from './service-process.js';
import { freePort } from './local-redis.js';

const MAIN = fileURLToPath(new URL('../../services/im-worker/dist/main.js', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/im-worker-process.mjs', import.meta.url));

export interface WorkerProcess {
  child: ChildProcess;
  port: number;
  exited: Promise<number | null>;
  /** SIGTERM, and wait for the exit. */
  stop(): Promise<number | null>;
}

export interface WorkerProcessOptions {
  /**
   * Run the test fixture instead of the service's own main.js: the same worker with test-only
   * settings (IM's duplicate window as the simulator has it, a clock set off by `clockSkewMs`).
   */
  imDuplicateWindowMs?: number;
  clockSkewMs?: number;
  /** Resolve as soon as it is spawned instead of once /readyz answers. */
  noWait?: boolean;
}

/** An im-worker as its own process (as deployed), on a free port, ready when this resolves. */
export async function startWorkerProcess(env: Record<string, string>, options: WorkerProcessOptions = {}): Promise<WorkerProcess> {
  const port = await freePort();
  const fixture = options.imDuplicateWindowMs !== undefined || options.clockSkewMs !== undefined;
  const child = spawn(process.execPath, [fixture ? FIXTURE : MAIN], {
    env: {
      PATH: process.env['PATH'] ?? '',
      LOG_LEVEL: 'silent',
      ...env,
      IM_WORKER_PORT: String(port),
      ...(options.imDuplicateWindowMs === undefined ? {} : { TEST_IM_DUPLICATE_WINDOW_MS: String(options.imDuplicateWindowMs) }),
      ...(options.clockSkewMs === undefined ? {} : { TEST_CLOCK_SKEW_MS: String(options.clockSkewMs) }),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const handle: WorkerProcess = {
    child,
    port,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGTERM');
      }
      return exited;
    },
  };
  if (!options.noWait) await whenReady(port, child);
  return handle;
}
