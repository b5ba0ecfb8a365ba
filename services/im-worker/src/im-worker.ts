import type { Config } from '@wxim/config';
import type { ImClient } from '@wxim/im';
import { type InboundJob, QUEUES, queueLayout } from '@wxim/queue';
import {
  AgentLoad,
  ConversationLine,
  DeskPresence,
  IdentityMap,
  RelayTurn,
  ReplyWindow,
  Unanswered,
  WindowNotices,
  queueHold,
  stateKeys,
  wakeToFront,
} from '@wxim/state';
import { type HostOverrides, type WorkerHost, createImClient, createWorkerHost, deskPolicy, imRateGate, requireImSettings } from '@wxim/host';
import type { Job } from 'bullmq';
import { CustomerRelay, type RelayResult } from './customer-relay.js';
import { createImWorkerMetrics } from './metrics.js';
import { createProcessor } from './processor.js';
import { CsatAnswers } from './csat-answer.js';

export interface ImWorkerOverrides extends HostOverrides {
  /** How long a job waiting for its turn sleeps if nobody wakes it. */
  waitMs?: number;
  imTimeoutMs?: number;
  processMetrics?: boolean;
  /** IM's duplicate window (120 s); tests shorten it together with the simulator's. */
  imDuplicateWindowMs?: number;
}

export interface ImWorker extends Omit<WorkerHost<InboundJob>, 'runJob'> {
  im: ImClient;
  /** What the worker runs for each job it takes (with its lock token): tools and tests can run a job by hand. */
  runJob: (job: Job<InboundJob>, token?: string) => Promise<RelayResult>;
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
    overrides,
    build: ({ state, prefix, log, replicas }) => {
      const keys = stateKeys(prefix);
      const relay = new CustomerRelay(
        im,
        new IdentityMap(state, keys),
        new AgentLoad(state, keys, new DeskPresence(state, keys, prefix)),
        config.onUnsubscribe,
        overrides.imDuplicateWindowMs,
      );
      const processor = createProcessor({
        relay,
        turn: new RelayTurn(state, keys, QUEUES.wechatInbound, config.im.agents, deskPolicy(config, overrides.waitMs)),
        line: new ConversationLine(state, keys, QUEUES.wechatInbound, keys.relayIds),
        wake: wakeToFront(state, queueLayout(prefix, QUEUES.wechatInbound)),
        metrics,
        log,
        rateLimit: queueHold(state, queueLayout(prefix, QUEUES.wechatInbound).limiter),
        imTurn: imRateGate(state, keys, config),
        jobKeyPrefix: keys.jobs(QUEUES.wechatInbound),
        lockMs: config.worker.stallMs,
        window: new ReplyWindow(state, keys),
        csat: new CsatAnswers({ redis: state, keys, answers: metrics.csatAnswers, log }),
        ...(replicas === undefined ? {} : { replicas }),
        ...(config.desk.firstResponseSlaMs === undefined ? {} : { unanswered: new Unanswered(state, keys) }),
        ...(config.desk.windowWarningMs === 0 ? {} : { windowWatch: new WindowNotices(state, keys) }),
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
