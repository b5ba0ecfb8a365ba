import type { Config } from '@wxim/config';
import { QUEUES, type ReplyJob } from '@wxim/queue';
import { ConversationLine, DeskPresence, FleetLock, ReplyRecall, ReplyWindow, WindowNotices, wakeToFront } from '@wxim/state';
import {
  type HostOverrides,
  type WorkerHost,
  accountKeys,
  createImClient,
  createWorkerHost,
  fleetRateGate,
  imShareGate,
  otherAppDesks,
  platformHolds,
} from '@wxim/host';
import { AccessTokenStore, DailyQuotas, WechatApi, clientCredentialToken, stableToken } from '@wxim/wechat';
import { createPusherMetrics, watchQuotas } from './metrics.js';
import { createPusher } from './processor.js';
import { DeskCommands } from './desk-commands.js';
import { CsatQuestion } from './csat.js';
import { ReplyConfirmation } from './reply-confirmation.js';
import { DeliveryMarks } from './delivery-marks.js';
import { MarkWriter } from './mark-writer.js';
import { ServiceLevels } from './service-levels.js';
import { FirstResponseCheck } from './first-response-check.js';
import { WindowWarningCheck } from './window-warning-check.js';

export interface WechatPusherOverrides extends HostOverrides {
  waitMs?: number;
  wechatTimeoutMs?: number;
  mediaTimeoutMs?: number;
  processMetrics?: boolean;
  /** When a reply not yet in IM's history is looked for again (about 5 s in all); tests shorten it. */
  confirmLooksAgainAfterMs?: readonly number[];
  /** How long a reply waits for the agent's messages sent just before it to be stored (ORDER_WAIT_MS, after IM's callback budget); tests lengthen it. */
  orderWaitMs?: number;
  /** How long an API WeChat said is over its daily quota is left alone before one call tries it again (QUOTA_LOOK_AGAIN_MS); tests shorten it. */
  quotaLookAgainMs?: number;
  /** How often an instance looks whether a first answer is overdue (FIRST_RESPONSE_SLA_S); tests shorten it. */
  firstResponseCheckEveryMs?: number;
  /** How often an instance looks whether a reply window closes soon unanswered (WINDOW_WARNING_MS); tests shorten it. */
  windowCheckEveryMs?: number;
}

export interface WechatPusher extends WorkerHost<ReplyJob> {
  wechat: WechatApi;
  tokens: AccessTokenStore;
}

export function requireWechatSettings(config: Config): { appId: string; appSecret: string } {
  const { appId, appSecret } = config.wechat;
  if (appId === undefined || appSecret === undefined) throw new Error('the wechat-pusher needs WECHAT_APP_ID and WECHAT_APP_SECRET');
  return { appId, appSecret };
}

/** Final delivery marks waiting at most in one process; more are dropped and counted (a mark is a hint). */
const MARKS_PENDING = 10_000;
/** How long a stopping pusher writes the marks still waiting. */
const MARKS_DRAIN_MS = 2000;

/** The wechat-pusher: a BullMQ worker on agent-replies that delivers each reply through WeChat's customer-service API. */
export async function createWechatPusher(config: Config, overrides: WechatPusherOverrides = {}): Promise<WechatPusher> {
  const { appId, appSecret } = requireWechatSettings(config);
  const metrics = createPusherMetrics({ processMetrics: overrides.processMetrics ?? false });
  const im = createImClient(config, metrics);
  let wechat: WechatApi | undefined;
  let tokens: AccessTokenStore | undefined;
  let check: FirstResponseCheck | undefined;
  let windowCheck: WindowWarningCheck | undefined;
  /** The checks' stop, asked for when the pusher's close begins. */
  let checksStopped: Promise<unknown> = Promise.resolve();
  const fetcherOptions = { apiBase: config.wechat.apiBase, appId, secret: appSecret };
  const fetcher = config.wechat.tokenApi === 'token' ? clientCredentialToken(fetcherOptions) : stableToken(fetcherOptions);
  const host = await createWorkerHost<ReplyJob>({
    service: 'wechat-pusher',
    queue: QUEUES.agentReplies,
    config,
    registry: metrics.registry,
    inFlight: metrics.inFlight,
    overrides,
    build: ({ state, prefix, log, replicas }) => {
      const keys = accountKeys(config, prefix);
      tokens = new AccessTokenStore({
        redis: state,
        keys: keys.accessToken,
        fetcher,
        onFetch: (api, outcome) => metrics.tokenFetches.inc({ api, outcome }),
      });
      wechat = new WechatApi({
        apiBase: config.wechat.apiBase,
        appId,
        tokens,
        timeoutMs: overrides.wechatTimeoutMs ?? 10_000,
        connections: config.worker.concurrency,
        ...(overrides.quotaLookAgainMs === undefined ? {} : { quotas: new DailyQuotas(overrides.quotaLookAgainMs) }),
        afterCall: (api, outcome, seconds) => {
          metrics.wechatCalls.inc({ api, outcome });
          metrics.wechatCallSeconds.observe({ api }, seconds);
        },
      });
      const client = wechat;
      watchQuotas(metrics.registry, () => client.quotas.usedUpNow());
      // Each platform's budget apart: IM's per command (shared with the im-worker), WeChat's own.
      const gate = fleetRateGate(state, keys, config);
      if (config.callbackVerify === 'off')
        log.warn(
          "CALLBACK_VERIFY=off: replies are delivered on the callback's word alone; anyone who captures a callback URL can reply in an agent's name for a minute",
        );
      const confirmation =
        config.callbackVerify === 'history'
          ? new ReplyConfirmation({
              redis: state,
              keys,
              im,
              progressKey: keys.replyProgress,
              turn: imShareGate(state, keys, config, 'confirm'),
              undoMs: config.replyUndoMs,
              log,
              ...(overrides.confirmLooksAgainAfterMs === undefined ? {} : { looksAgainAfterMs: overrides.confirmLooksAgainAfterMs }),
            })
          : undefined;
      const window = new ReplyWindow(state, keys);
      const csatText = config.desk.csatText;
      const csat =
        csatText === undefined
          ? undefined
          : new CsatQuestion({
              redis: state,
              keys,
              wechat,
              window,
              text: csatText,
              turn: (api, lease) => gate.acquire({ platform: 'wechat', api }, lease),
              log,
            });
      const levels = new ServiceLevels({
        redis: state,
        keys,
        firstResponse: metrics.firstResponse,
        resolution: metrics.resolution,
        transfers: metrics.transfers,
        exhausted: metrics.slaExhausted,
      });
      const desk = new DeskCommands({
        redis: state,
        keys,
        im,
        agents: config.im.agents,
        maxOpen: config.desk.maxOpen,
        cannedReplies: config.desk.cannedReplies,
        presence: new DeskPresence(state, keys, prefix, otherAppDesks(config)),
        turn: (scope, lease) => gate.acquire(scope, lease),
        commands: metrics.deskCommands,
        ...(csat === undefined ? {} : { csat }),
        levels,
        log,
      });
      const slaMs = config.desk.firstResponseSlaMs;
      // The pusher checks, not the im-worker: it has the IM client for the agents' notices and the
      // conversation's history, as /transfer does; one instance of the fleet at a time (the lock).
      if (slaMs !== undefined)
        check = new FirstResponseCheck({
          redis: state,
          keys,
          im,
          agents: config.im.agents,
          maxOpen: config.desk.maxOpen,
          slaMs,
          everyMs: overrides.firstResponseCheckEveryMs ?? Math.min(15_000, Math.max(1000, Math.floor(slaMs / 10))),
          lock: new FleetLock(state, keys.deskSlaLock, 60_000),
          history: (userId, agent) => desk.recentHistory(userId, agent, undefined),
          turn: (scope) => gate.acquire(scope),
          levels,
          log,
          ran: (outcome) => metrics.checks.inc({ check: 'first_response', outcome }),
        });
      // As many marks written at once as replies delivered: enough to use IM's pace for the marks' command.
      const markWriter = config.deliveryMarks === 'on' ? new MarkWriter({ maxPending: MARKS_PENDING, writers: config.worker.concurrency }) : undefined;
      const marks =
        markWriter === undefined
          ? undefined
          : new DeliveryMarks({
              redis: state,
              im,
              progressKey: keys.replyProgress,
              turn: (scope, lease) => gate.acquire(scope, lease),
              writer: markWriter,
              marks: metrics.deliveryMarks,
              log,
            });
      const windowNotices = new WindowNotices(state, keys);
      const warningMs = config.desk.windowWarningMs;
      if (warningMs > 0)
        windowCheck = new WindowWarningCheck({
          redis: state,
          keys,
          im,
          notices: windowNotices,
          warningMs,
          timeZone: config.desk.hours?.timeZone ?? 'Asia/Shanghai',
          // A minute late at most in production: a warning hours ahead needs no more.
          everyMs: overrides.windowCheckEveryMs ?? Math.min(60_000, Math.max(1000, Math.floor(warningMs / 20))),
          lock: new FleetLock(state, keys.windowWarningLock, 60_000),
          turn: (scope) => gate.acquire(scope),
          warnings: metrics.windowWarnings,
          log,
          ran: (outcome) => metrics.checks.inc({ check: 'window_warning', outcome }),
        });
      const line = new ConversationLine(state, keys, QUEUES.agentReplies, keys.replyProgress);
      const pusher = createPusher({
        desk,
        levels,
        windowNotices,
        ...(marks === undefined ? {} : { marks }),
        ...(confirmation === undefined ? {} : { confirmation }),
        redis: state,
        wechat,
        im,
        window,
        line,
        order: { line, ...(overrides.orderWaitMs === undefined ? {} : { waitMs: overrides.orderWaitMs }) },
        progressKey: keys.replyProgress,
        wake: wakeToFront(state, keys.queue(QUEUES.agentReplies)),
        rateLimit: platformHolds(state, config, QUEUES.agentReplies),
        turn: (scope, lease) => gate.acquire(scope, lease),
        tryTurn: (api) => gate.tryAcquire({ platform: 'wechat', api }),
        typingShownKey: keys.typingShown,
        recall: new ReplyRecall(state, keys),
        undoMs: config.replyUndoMs,
        jobKeyPrefix: keys.jobs(QUEUES.agentReplies),
        lockMs: config.worker.stallMs,
        allowedHosts: config.mediaAllowedHosts,
        mediaTimeoutMs: overrides.mediaTimeoutMs ?? 15_000,
        metrics,
        log,
        ...(replicas === undefined ? {} : { replicas }),
        ...(overrides.waitMs === undefined ? {} : { waitMs: overrides.waitMs }),
      });
      return {
        process: (job, token) => pusher.process(job, token),
        done: (job, failed) => pusher.done(job, failed),
        close: async () => {
          // The checks' last steps (asked to stop when the close began) end while IM and Redis are there.
          await checksStopped;
          // The marks decided by the jobs that finished: a short while for them, then the rest are
          // dropped; at once without Redis (no turn under IM's pace could be had).
          if (state.status === 'ready') await markWriter?.close(MARKS_DRAIN_MS);
          else markWriter?.abort();
          await Promise.all([wechat!.close(), im.close(), fetcher.close()]);
        },
        // A send cut here is left `sending` in its progress: the next attempt reports it as
        // uncertain instead of sending it again (custom/send is not idempotent).
        abort: async () => {
          markWriter?.abort();
          await Promise.all([wechat!.destroy(), im.destroy(), fetcher.close()]);
        },
      };
    },
  });
  let closing: Promise<void> | undefined;
  return {
    ...host,
    start() {
      host.start();
      check?.start();
      windowCheck?.start();
    },
    close() {
      // The worker stops taking replies at once, whatever a check is doing: the checks end at
      // their next step meanwhile (a notice in flight goes on, its answer read and marked), and the
      // service's own close waits for that before IM's client and Redis go (see the handler's close).
      closing ??= (async () => {
        checksStopped = Promise.all([check?.stop(), windowCheck?.stop()]);
        await host.close();
        await checksStopped;
      })();
      return closing;
    },
    wechat: wechat!,
    tokens: tokens!,
  };
}
