import { type Config, DEFAULT_ACCOUNT, requireSettings } from '@wxim/config';
import type { ImClient } from '@wxim/im';
import { type InboundJob, QUEUES } from '@wxim/queue';
import { AgentLoad, ConversationLine, DeskPresence, IdentityMap, MediaStore, RelayTurn, RelayedMessage, ReplyWindow, wakeToFront } from '@wxim/state';
import {
  type HostOverrides,
  type WorkerHost,
  accountKeys,
  appLoadPlaces,
  createImClient,
  createWorkerHost,
  deskPolicy,
  fleetRateGate,
  otherAppDesks,
  requireImSettings,
  platformHolds,
} from '@wxim/host';
import { AccessTokenStore, WechatApi, clientCredentialToken, stableToken } from '@wxim/wechat';
import type { Job } from 'bullmq';
import { CustomerRelay, type RelayResult } from './customer-relay.js';
import { createImWorkerMetrics } from './metrics.js';
import { createProcessor } from './processor.js';
import { CsatAnswers } from './csat-answer.js';
import { CustomerMedia } from './customer-media.js';
import { VoiceTranscoder } from './voice-transcode.js';

export interface ImWorkerOverrides extends HostOverrides {
  /** How long a job waiting for its turn sleeps if nobody wakes it. */
  waitMs?: number;
  imTimeoutMs?: number;
  processMetrics?: boolean;
  /** IM's duplicate window (120 s); tests shorten it together with the simulator's. */
  imDuplicateWindowMs?: number;
  /** The ffmpeg that converts customers' voice (`ffmpeg` on PATH); tests name a missing one. */
  ffmpeg?: string;
  /** How long a download's 45011 is waited out (MEDIA_MINUTE_WAIT_MS, WeChat's minute); tests shorten it. */
  mediaMinuteWaitMs?: number;
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
  // Customers' voice and video are fetched from WeChat only when they can be offered as links.
  const { publicUrl, urlSecret } = config.media;
  const mediaOn = publicUrl !== undefined && urlSecret !== undefined;
  if (mediaOn) requireSettings(config, ['WECHAT_APP_ID', 'WECHAT_APP_SECRET']);
  const fetcherOptions = { apiBase: config.wechat.apiBase, appId: config.wechat.appId ?? '', secret: config.wechat.appSecret ?? '' };
  const fetcher = !mediaOn ? undefined : config.wechat.tokenApi === 'token' ? clientCredentialToken(fetcherOptions) : stableToken(fetcherOptions);
  let wechat: WechatApi | undefined;
  const host = await createWorkerHost<InboundJob>({
    service: 'im-worker',
    queue: QUEUES.wechatInbound,
    config,
    registry: metrics.registry,
    inFlight: metrics.inFlight,
    overrides,
    build: ({ state, prefix, log, replicas }) => {
      const keys = accountKeys(config, prefix);
      let media: CustomerMedia | undefined;
      if (fetcher !== undefined) {
        // The fleet's one access_token, shared with the wechat-pusher (the same keys and fetcher kind).
        const tokens = new AccessTokenStore({ redis: state, keys: keys.accessToken, fetcher });
        wechat = new WechatApi({
          apiBase: config.wechat.apiBase,
          appId: config.wechat.appId!,
          tokens,
          connections: config.worker.concurrency,
          afterCall: (api, outcome, seconds) => {
            metrics.wechatCalls.inc({ api, outcome });
            metrics.wechatCallSeconds.observe({ api }, seconds);
          },
        });
        const transcoder = new VoiceTranscoder(overrides.ffmpeg === undefined ? {} : { command: overrides.ffmpeg });
        void transcoder.available().then(
          (ok) => {
            if (!ok) log.warn("ffmpeg is not installed: customers' voice messages reach agents as text notes (install ffmpeg to relay the recordings)");
          },
          (err: Error) => log.warn({ reason: err.message }, 'could not check that ffmpeg runs: checked again with the next voice message'),
        );
        media = new CustomerMedia({
          wechat,
          store: new MediaStore(state, keys),
          transcoder,
          publicUrl: publicUrl!,
          ...(config.account === DEFAULT_ACCOUNT ? {} : { account: config.account }),
          secret: urlSecret!,
          log,
          noted: (kind, reason) => metrics.mediaNotes.inc({ kind, reason }),
          ...(overrides.mediaMinuteWaitMs === undefined ? {} : { minuteWaitMs: overrides.mediaMinuteWaitMs }),
        });
      } else log.info("MEDIA_PUBLIC_URL is not set: customers' voice and video reach agents as text notes");
      // IM's and WeChat's paces (IM's the app's, shared with accounts on the same app).
      const gate = fleetRateGate(state, keys, config);
      const relayed = new RelayedMessage(state, keys, { unanswered: config.desk.firstResponseSlaMs !== undefined, watch: config.desk.windowWarningMs !== 0 });
      const presence = new DeskPresence(state, keys, prefix, otherAppDesks(config));
      const loads = new AgentLoad(state, keys, presence);
      // Each start counts the agents' open conversations afresh (once for accounts that share an
      // IM app, by the first of them): the file's accounts may have joined or left an app since.
      if (config.account === config.imPaceAccount) {
        const { accounts, places } = appLoadPlaces(config);
        loads.recount(accounts, places).then(
          (open) => log.info({ open, accounts: accounts.length }, "agents' open conversations counted"),
          (err: Error) => log.warn({ reason: err.message }, "could not count the agents' open conversations afresh: they stay as counted"),
        );
      }
      const relay = new CustomerRelay(im, new IdentityMap(state, keys), loads, config.onUnsubscribe, config.im.agents, overrides.imDuplicateWindowMs, media);
      const processor = createProcessor({
        relay,
        turn: new RelayTurn(
          state,
          keys,
          QUEUES.wechatInbound,
          config.im.agents,
          deskPolicy(config, overrides.waitMs),
          otherAppDesks(config).map((d) => d.keys),
        ),
        line: new ConversationLine(state, keys, QUEUES.wechatInbound, keys.relayIds),
        wake: wakeToFront(state, keys.queue(QUEUES.wechatInbound)),
        metrics,
        log,
        rateLimit: platformHolds(state, config, QUEUES.wechatInbound),
        imTurn: (command, lease) => gate.acquire({ platform: 'im', command }, lease),
        imFirstTurn: {
          of: (command, lease) => gate.turnOf({ platform: 'im', command }, lease),
          startReserved: (command, slotAt, lease) => gate.startReserved({ platform: 'im', command }, slotAt, lease),
        },
        wechatTurn: (api, lease) => gate.acquire({ platform: 'wechat', api }, lease),
        jobKeyPrefix: keys.jobs(QUEUES.wechatInbound),
        lockMs: config.worker.stallMs,
        window: new ReplyWindow(state, keys),
        csat: new CsatAnswers({ redis: state, keys, answers: metrics.csatAnswers, log }),
        ...(replicas === undefined ? {} : { replicas }),
        relayed,
        placeFreed: () => presence.wakeWaiting(1),
        ...(overrides.waitMs === undefined ? {} : { waitMs: overrides.waitMs }),
      });
      return {
        process: (job, token) => processor.process(job, token),
        done: (job, failed) => processor.done(job, failed),
        close: async () => {
          await Promise.all([im.close(), wechat?.close(), fetcher?.close()]);
        },
        // A call IM did receive is sent again by the next worker, with the same MsgSeq and
        // MsgRandom: IM drops the repeat. A media download only reads.
        abort: async () => {
          await Promise.all([im.destroy(), wechat?.destroy(), fetcher?.close()]);
        },
      };
    },
  });
  return { ...host, im, runJob: host.runJob as ImWorker['runJob'] };
}
