import { type Config, loggerOptions } from '@wxim/config';
import { DEFAULT_JOB_OPTIONS, type InboundJob, QUEUES, connectionSettings, createRedis, keyPrefix } from '@wxim/queue';
import { ConversationLine, stateKeys } from '@wxim/relay';
import { MessageCipher } from '@wxim/wechat';
import { Queue } from 'bullmq';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { gatewayApp } from './app.js';
import { InboundEnqueuer } from './inbound-enqueuer.js';
import { createGatewayMetrics } from './metrics.js';

export interface Gateway {
  app: FastifyInstance;
  queue: Queue<InboundJob>;
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
  const redis = createRedis(connectionSettings(config, 'wechat-gateway'), 'queue');
  redis.on('error', () => {}); // reported through /readyz and 503s; ioredis reconnects by itself
  const queue = new Queue<InboundJob>(QUEUES.wechatInbound, {
    connection: redis,
    prefix: keyPrefix(config.queuePrefix, config.redisCluster),
    defaultJobOptions: DEFAULT_JOB_OPTIONS,
  });
  queue.on('error', () => {});
  const cipher =
    config.wechat.encodingAesKey !== undefined && config.wechat.appId !== undefined
      ? new MessageCipher(config.wechat.encodingAesKey, config.wechat.appId)
      : undefined;
  const prefix = keyPrefix(config.queuePrefix, config.redisCluster);
  const keys = stateKeys(prefix);
  const line = new ConversationLine(redis, keys, QUEUES.wechatInbound, keys.relayIds);
  const logger = { ...loggerOptions(config.logLevel, 'wechat-gateway'), ...(overrides.logStream ? { stream: overrides.logStream } : {}) };
  const app = Fastify({
    logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    forceCloseConnections: false,
    return503OnClosing: true,
  });
  await app.register(gatewayApp, {
    token,
    ...(cipher ? { cipher } : {}),
    requireEncryption: config.wechat.requireEncryption,
    welcomeText: config.welcomeText,
    enqueuer: new InboundEnqueuer(queue, line, overrides.enqueueTimeoutMs ?? ENQUEUE_TIMEOUT_MS, config.redisWaitReplicas),
    redis,
    metrics: createGatewayMetrics({ processMetrics: overrides.processMetrics ?? false }),
  });
  return {
    app,
    queue,
    async close() {
      await app.close();
      await queue.close();
      redis.disconnect();
    },
  };
}
