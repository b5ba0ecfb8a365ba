import { loadConfig, startOrExit } from '@wxim/config';
import { QUEUES, connectionSettings, createRedis, keyPrefix, retryFailedJobs } from '@wxim/queue';
import { Queue } from 'bullmq';

/**
 * `npm run retry-failed [-- <job id> …]`: retries the failed relays of `wechat-inbound` (all of
 * them, or the jobs named), attempts reset, against REDIS_URL and QUEUE_PREFIX. Run it once the
 * cause of the failures is mended; each job is relayed once, with the ids it was first sent with.
 */
await startOrExit('retry-failed', async () => {
  const config = loadConfig();
  const ids = process.argv.slice(2);
  const connection = createRedis(connectionSettings(config, 'retry-failed'), 'state');
  const queue = new Queue(QUEUES.wechatInbound, { connection, prefix: keyPrefix(config.queuePrefix, config.redisCluster) });
  try {
    const retried = await retryFailedJobs(queue, ids.length > 0 ? ids : undefined);
    process.stdout.write(`retried ${retried} failed job${retried === 1 ? '' : 's'} of ${QUEUES.wechatInbound}\n`);
  } finally {
    await queue.close();
    connection.disconnect();
  }
});
