import type { Config } from '@wxim/config';
import { DEFAULT_JOB_OPTIONS, type InboundJob, QUEUES } from '@wxim/queue';
import { ConversationLine, MediaStore, PushAddresses } from '@wxim/state';
import { accountKeys, createHttpHost, otherAppDesks } from '@wxim/host';
import { MessageCipher } from '@wxim/wechat';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { type GatewayAppOptions, gatewayApp } from './app.js';
import { AutoReply } from './auto-reply.js';
import { InboundEnqueuer } from './inbound-enqueuer.js';
import { PUSH_BODY_LIMIT } from './wechat-routes.js';
import { createGatewayMetrics } from './metrics.js';

export interface Gateway {
  app: FastifyInstance;
  queue: Queue<InboundJob>;
  /** Told before whatever is in front of it (the accounts front) stops taking requests: its answers close their connections. */
  closing(): void;
  close(): Promise<void>;
}

export interface GatewayOverrides {
  /** Budget for storing a push before answering 503 (WeChat waits 5 s in all). */
  enqueueTimeoutMs?: number;
  /** A pino destination stream, for tests that read the logs. */
  logStream?: NodeJS.WritableStream;
  processMetrics?: boolean;
}

export const ENQUEUE_TIMEOUT_MS = 4000;

/** Builds a gateway from configuration: its Redis connection, queue and Fastify app (not listening). */
export async function createGateway(config: Config, overrides: GatewayOverrides = {}): Promise<Gateway> {
  const token = config.wechat.token;
  if (token === undefined) throw new Error('createGateway needs WECHAT_TOKEN');
  const host = await createHttpHost({
    service: 'wechat-gateway',
    config,
    redisRole: 'queue',
    server: { bodyLimit: PUSH_BODY_LIMIT, forceCloseConnections: false, return503OnClosing: true },
    ...(overrides.logStream ? { logStream: overrides.logStream } : {}),
    build: ({ redis, prefix }) => {
      const queue = new Queue<InboundJob>(QUEUES.wechatInbound, { connection: redis, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
      queue.on('error', () => {});
      const cipher =
        config.wechat.encodingAesKey !== undefined && config.wechat.appId !== undefined
          ? new MessageCipher(config.wechat.encodingAesKey, config.wechat.appId, config.wechat.previousEncodingAesKey)
          : undefined;
      const keys = accountKeys(config, prefix);
      const line = new ConversationLine(redis, keys, QUEUES.wechatInbound, keys.relayIds);
      const metrics = createGatewayMetrics({ processMetrics: overrides.processMetrics ?? false });
      const autoReply = new AutoReply(
        keys,
        config,
        otherAppDesks(config).map((d) => d.keys),
      );
      const enqueuer = new InboundEnqueuer(queue, line, overrides.enqueueTimeoutMs ?? ENQUEUE_TIMEOUT_MS, config.redisWaitReplicas, [autoReply], (pushes) =>
        metrics.storeRetries.inc({ step: 'store' }, pushes.length),
      );
      const options: GatewayAppOptions = {
        token,
        ...(cipher ? { cipher } : {}),
        requireEncryption: config.wechat.requireEncryption,
        welcomeText: config.welcomeText,
        autoReply,
        enqueuer,
        addresses: new PushAddresses(redis, keys, () => metrics.storeRetries.inc({ step: 'address' })),
        metrics,
        ...(config.media.urlSecret === undefined || config.media.publicUrl === undefined
          ? {}
          : { media: { store: new MediaStore(redis, keys), secret: config.media.urlSecret, videoCut: (why) => metrics.videoCuts.inc({ why }) } }),
      };
      return { queue, registry: metrics.registry, routes: (app) => gatewayApp(app, options), close: async () => (await enqueuer.close(), await queue.close()) };
    },
  });
  return { app: host.app, queue: host.handler.queue, closing: () => host.closing(), close: () => host.close() };
}
