import type { Config } from '@wxim/config';
import { ImClient, UserSigCache, paceFor } from '@wxim/im';
import { type InboundJob, QUEUES } from '@wxim/queue';
import { AgentLoad, ConversationLine, IdentityMap, type Lease, RateGate, RelayTurn, queueHold, stateKeys, wakeToFront } from '@wxim/relay';
import { type WorkerHost, createWorkerHost } from '@wxim/runtime';
import type { Job } from 'bullmq';
import { CustomerRelay, type RelayResult } from './customer-relay.js';
import { createImWorkerMetrics } from './metrics.js';
import { createProcessor } from './processor.js';

export interface ImWorkerOverrides {
  /** First retry delay; doubles per attempt up to 10 minutes. */
  backoffBaseMs?: number;
  /** How long a job waiting for its turn sleeps if nobody wakes it. */
  waitMs?: number;
  imTimeoutMs?: number;
  logStream?: NodeJS.WritableStream;
  processMetrics?: boolean;
  /** How long SIGTERM waits for jobs in flight before handing them back. */
  shutdownTimeoutMs?: number;
  /** IM's duplicate window (120 s); tests shorten it together with the simulator's. */
  imDuplicateWindowMs?: number;
}

export interface ImWorker extends Omit<WorkerHost<InboundJob>, 'runJob'> {
  im: ImClient;
  /** What the worker runs for each job it takes (with its lock token): tools and tests can run a job by hand. */
  runJob: (job: Job<InboundJob>, token?: string) => Promise<RelayResult>;
}

export function requireImSettings(config: Config): { sdkAppId: number; secretKey: string } {
  const { sdkAppId, secretKey } = config.im;
  if (sdkAppId === undefined || secretKey === undefined || config.im.agents.length === 0)
    throw new Error('createImWorker needs IM_SDK_APP_ID, IM_SECRET_KEY and IM_AGENTS');
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

/** IM's budget as the whole fleet shares it, per command: scopes named `im:<command>` (WeChat's API budget is another). */
export function imRateGate(state: ConstructorParameters<typeof RateGate>[0], keys: ReturnType<typeof stateKeys>, config: Config) {
  const gate = new RateGate(state, keys, (scope) => paceFor(scope.slice('im:'.length), config.worker.imRateLimit));
  return (command: string, lease?: Lease) => gate.acquire(`im:${command}`, lease);
}

/** The im-worker: a BullMQ worker on wechat-inbound that relays each push to Tencent IM. */
export async function createImWorker(config: Config, overrides: ImWorkerOverrides = {}): Promise<ImWorker> {
  requireImSettings(config);
  const metrics = createImWorkerMetrics({ processMetrics: overrides.processMetrics ?? false });
  const im = createImClient(config, metrics, overrides.imTimeoutMs);
  const host = await createWorkerHost<InboundJob>({
    service: 'im-worker',
    queue: QUEUES.wechatInbound,
    config,
    registry: metrics.registry,
    inFlight: metrics.inFlight,
    ...(overrides.backoffBaseMs === undefined ? {} : { backoffBaseMs: overrides.backoffBaseMs }),
    ...(overrides.shutdownTimeoutMs === undefined ? {} : { shutdownTimeoutMs: overrides.shutdownTimeoutMs }),
    ...(overrides.logStream === undefined ? {} : { logStream: overrides.logStream }),
    build: ({ state, queue, prefix, log }) => {
      const keys = stateKeys(prefix);
      const relay = new CustomerRelay(im, new IdentityMap(state, keys), new AgentLoad(state, keys), config.onUnsubscribe, overrides.imDuplicateWindowMs);
      const processor = createProcessor({
        relay,
        turn: new RelayTurn(state, keys, QUEUES.wechatInbound, config.im.agents),
        line: new ConversationLine(state, keys, QUEUES.wechatInbound, keys.relayIds),
        wake: wakeToFront(state, queue),
        metrics,
        log,
        rateLimit: queueHold(state, queue.keys.limiter!),
        imTurn: imRateGate(state, keys, config),
        jobKeyPrefix: keys.jobs(QUEUES.wechatInbound),
        lockMs: config.worker.stallMs,
        ...(overrides.waitMs === undefined ? {} : { waitMs: overrides.waitMs }),
      });
      return {
        process: (job, token) => processor.process(job, token),
        done: (job, failed) => processor.done(job, failed),
        close: () => im.close(),
        // A call IM did receive is sent again by the next worker, with the same MsgSeq and
        // MsgRandom: IM drops the repeat.
        abort: () => im.destroy(),
      };
    },
  });
  return { ...host, im, runJob: host.runJob as ImWorker['runJob'] };
}
