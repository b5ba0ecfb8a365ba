import type { Config } from '@wxim/config';
import { ImClient, UserSigCache } from '@wxim/im';

export function requireImSettings(config: Config): { sdkAppId: number; secretKey: string } {
  const { sdkAppId, secretKey } = config.im;
  if (sdkAppId === undefined || secretKey === undefined || config.im.agents.length === 0)
    throw new Error('an IM client needs IM_SDK_APP_ID, IM_SECRET_KEY and IM_AGENTS');
  return { sdkAppId, secretKey };
}

/** An IM client for a worker: one connection per job in flight, its calls counted in `metrics`. */
export function createImClient(
  config: Config,
  metrics: { imCalls: { inc(labels: { command: string; outcome: string }): void }; imCallSeconds: { observe(labels: { command: string }, v: number): void } },
  timeoutMs = 5000,
): ImClient {
  const { sdkAppId, secretKey } = requireImSettings(config);
  return new ImClient({
    sdkAppId,
    admin: config.im.admin,
    userSig: new UserSigCache(sdkAppId, secretKey, config.im.admin),
    apiBase: config.im.apiBase,
    timeoutMs,
    // One connection per job in flight: a call that has passed its lock check and its turn under
    // IM's pace leaves at once, never waits in the pool for a connection.
    connections: config.worker.concurrency,
    afterCall: (command, outcome, seconds) => {
      metrics.imCalls.inc({ command, outcome });
      metrics.imCallSeconds.observe({ command }, seconds);
    },
  });
}
