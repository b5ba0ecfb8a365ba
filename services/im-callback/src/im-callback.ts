import type { Config } from '@wxim/config';
import { DEFAULT_JOB_OPTIONS, QUEUES, type ReplyJob } from '@wxim/queue';
import { ConversationLine, DeskPresence, FleetLock } from '@wxim/state';
import {
  type HttpContext,
  type MissedReason,
  accountKeys,
  createHttpHost,
  createImClient,
  fleetRateGate,
  imShareGate,
  otherAppDesks,
  requireImSettings,
} from '@wxim/host';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { CALLBACK_BODY_LIMIT, type CallbackRouteOptions, callbackRoutes, missedCallback } from './callback-routes.js';
import { ActiveConversations } from './active-conversations.js';
import { CallbackSweep } from './callback-sweep.js';
import { CallbackWatch } from './callback-watch.js';
import { HistoryScan } from './history-scan.js';
import { OwedLooks } from './owed-looks.js';
import { createCallbackMetrics } from './metrics.js';
import { CallbackRecovery } from './recovery.js';
import { ReplyStore } from './reply-store.js';
import { onlineElsewhere } from './online-elsewhere.js';
import { PRESENCE_SYNC_MS, PresenceSync } from './presence-sync.js';

export interface ImCallback {
  app: FastifyInstance;
  queue: Queue<ReplyJob>;
  recovery: CallbackRecovery;
  watch: CallbackWatch;
  sweep: CallbackSweep;
  /** The agents' states compared with IM's every PRESENCE_SYNC_MS. */
  presenceSync: PresenceSync;
  /** Starts the heartbeat (and a recovery, if callbacks may have been missed while no instance ran), the sweeps and the presence look. */
  start(): void;
  /** Told before the server in front of it stops taking requests: callbacks are refused from then on, and looked for in IM's history later. */
  closing(): void;
  /** A callback the front of several accounts answered itself (RunningService.missed): counted, and a gap if IM signed it. */
  missed(url: string, why: MissedReason): void;
  close(): Promise<void>;
}

export interface ImCallbackOverrides {
  /** Budget for storing a reply before answering an error (IM waits 2 s in all). */
  enqueueTimeoutMs?: number;
  logStream?: NodeJS.WritableStream;
  processMetrics?: boolean;
  /** How often the heartbeat is written (2 s); tests shorten it. */
  heartbeatMs?: number;
  /** How long ago a sweep looks up to (30 s); tests shorten it. */
  sweepSettleMs?: number;
  /** How long refused conversation lists hold the sweeps' cursor back (10 minutes); tests shorten it. */
  sweepListsGraceMs?: number;
  /** How long a Logout or Disconnect waits for IM's word on the agent's other devices (ONLINE_CHECK_MS, 1 s); tests of the logic lengthen it. */
  onlineCheckMs?: number;
  /** How often the agents' states are compared with IM's (PRESENCE_SYNC_MS, a minute; 0: never); tests shorten it. */
  presenceSyncMs?: number;
}

export const ENQUEUE_TIMEOUT_MS = 1500;

/** Builds im-callback from configuration: its Redis connection, queue, recovery and Fastify app (not listening). */
export async function createImCallback(config: Config, overrides: ImCallbackOverrides = {}): Promise<ImCallback> {
  const { sdkAppId } = requireImSettings(config);
  const host = await createHttpHost({
    service: 'im-callback',
    config,
    redisRole: 'queue',
    // Requests while closing are refused by the routes instead, so that a callback refused then is marked as missed.
    server: { bodyLimit: CALLBACK_BODY_LIMIT, forceCloseConnections: false, return503OnClosing: false },
    ...(overrides.logStream ? { logStream: overrides.logStream } : {}),
    build: (context) => callbackParts(config, sdkAppId, context, overrides),
  });
  const { queue, recovery, watch, sweep, presenceSync, missed } = host.handler;
  return {
    app: host.app,
    queue,
    recovery,
    watch,
    sweep,
    presenceSync,
    closing: () => host.closing(),
    missed,
    start() {
      watch.start(); // its first beat also looks at gaps a recovery that did not finish left behind
      sweep.start();
      presenceSync.start();
    },
    close: () => host.close(),
  };
}

/** im-callback's own parts on the host's connection: the reply store, the watch on callbacks, recovery and sweeps, its routes. */
function callbackParts(config: Config, sdkAppId: number, { redis, prefix, log }: HttpContext, overrides: ImCallbackOverrides) {
  const keys = accountKeys(config, prefix);
  const queue = new Queue<ReplyJob>(QUEUES.agentReplies, { connection: redis, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
  queue.on('error', () => {});
  const presence = new DeskPresence(redis, keys, prefix, otherAppDesks(config));
  const metrics = createCallbackMetrics({
    processMetrics: overrides.processMetrics ?? false,
    recovery: {
      sweepPeriodMs: config.callbackSweepMs,
      // Read at scrape time, once everything below is built.
      sweep: () => sweep.state(),
      gaps: async () => {
        const [waiting, oldest] = await Promise.all([redis.zcard(keys.callbackGaps), redis.zrange(keys.callbackGaps, 0, 0, 'WITHSCORES')]);
        return { waiting, ...(oldest[1] === undefined ? {} : { oldestFrom: Number(oldest[1]) }) };
      },
    },
  });
  const agents = new Set(config.im.agents);
  const store = new ReplyStore(
    redis,
    keys,
    queue,
    new ConversationLine(redis, keys, QUEUES.agentReplies, keys.replyProgress),
    agents,
    overrides.enqueueTimeoutMs ?? ENQUEUE_TIMEOUT_MS,
    config.redisWaitReplicas,
    config.callbackSweepMs > 0,
    (what) => metrics.storeRetries.inc({ what }),
  );
  const im = createImClient(config, metrics);
  const recoveryTurn = imShareGate(redis, keys, config, 'recovery');
  // IM's calls about agents' states (query_online_status), each under the fleet's pace of that command.
  const gate = fleetRateGate(redis, keys, config);
  const presenceTurn = (command: string) => gate.acquire({ platform: 'im', command });
  const scan = new HistoryScan({ redis, keys, im, store, agents, turn: recoveryTurn, log });
  const active = new ActiveConversations({ redis, keys, im, agents: config.im.agents, turn: recoveryTurn, log });
  const owed = new OwedLooks(redis, keys, config.im.agents);
  // One look through IM's history at a time in the fleet, renewed as it goes: a customer's found replies keep their order.
  const lock = new FleetLock(redis, keys.historyLock, 60_000);
  const watch = new CallbackWatch(redis, keys, () => recovery.trigger(), overrides.heartbeatMs, log);
  const presenceSyncMs = overrides.presenceSyncMs ?? PRESENCE_SYNC_MS;
  const presenceSync = new PresenceSync({
    im,
    turn: presenceTurn,
    presence,
    redis,
    keys,
    agents: config.im.agents,
    // Held most of a period and left to expire: one look a period in the fleet.
    lock: new FleetLock(redis, keys.presenceSyncLock, Math.max(100, Math.floor(presenceSyncMs * 0.9))),
    periodMs: presenceSyncMs,
    maxOpen: config.desk.maxOpen,
    log,
  });
  const recovery: CallbackRecovery = new CallbackRecovery({
    watch,
    scan,
    active,
    owed,
    lock,
    log,
    onRecovered: (n) => metrics.recovered.inc({ via: 'gap' }, n),
  });
  const sweep = new CallbackSweep({
    redis,
    keys,
    scan,
    active,
    owed,
    lock,
    periodMs: config.callbackSweepMs,
    ...(overrides.sweepSettleMs === undefined ? {} : { settleMs: overrides.sweepSettleMs }),
    ...(overrides.sweepListsGraceMs === undefined ? {} : { listsGraceMs: overrides.sweepListsGraceMs }),
    log,
    onSweep: (outcome, seconds, found) => {
      metrics.sweeps.inc({ outcome });
      metrics.sweepSeconds.observe(seconds);
      if (found > 0) metrics.recovered.inc({ via: 'sweep' }, found);
    },
  });
  const routes: CallbackRouteOptions = {
    sdkAppId,
    ...(config.im.callbackToken === undefined ? {} : { token: config.im.callbackToken }),
    store,
    watch,
    recordState: async (account, state) => {
      if (!agents.has(account)) return;
      if ((state.action === 'Logout' || state.action === 'Disconnect') && (await onlineElsewhere(im, presenceTurn, account, overrides.onlineCheckMs))) {
        log.info({ agent: account, action: state.action }, 'one of the agent’s connections closed; IM has them online on another: still online');
        return;
      }
      if (!(await presence.record(account, state)) || state.action !== 'Login') return;
      // Waiting customers look for an agent at once rather than at their next look (within 30 s).
      await presence
        .wakeWaiting(config.desk.maxOpen)
        .catch((err: Error) => log.warn({ reason: err.message }, 'could not wake the waiting conversations; they look again by themselves'));
    },
    metrics,
  };
  return {
    queue,
    recovery,
    watch,
    sweep,
    presenceSync,
    registry: metrics.registry,
    routes: (app: FastifyInstance) => callbackRoutes(app, routes),
    missed: missedCallback(routes),
    // Ready once the fleet knows this instance: a callback it takes is then never lost unseen.
    ready: () => watch.known,
    closing: () => watch.closingNow(),
    async close() {
      await watch.stop();
      await sweep.stop();
      await presenceSync.stop();
      await recovery.idle();
      await im.close();
      await store.close();
      await queue.close();
    },
  };
}
