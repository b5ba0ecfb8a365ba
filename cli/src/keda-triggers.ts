import type { Config } from '@wxim/config';
import { QUEUES, accountPrefix } from '@wxim/queue';
import { stringify } from 'yaml';

/**
 * What each worker scales on in deploy/k8s/keda.yaml: its queue's waiting list, and the target
 * length per replica (the same for every account).
 */
export const SCALED_WORKERS = [
  { scaledObject: 'im-worker', queue: QUEUES.wechatInbound, listLength: '500' },
  { scaledObject: 'wechat-pusher', queue: QUEUES.agentReplies, listLength: '200' },
] as const;

/** A KEDA trigger on one account's waiting list, of the kind the deployment's Redis needs (as keda.yaml describes). */
export function accountTrigger(config: Config, account: string, queue: string, listLength: string): Record<string, unknown> {
  const listName = `${accountPrefix(config.queuePrefix, config.redisCluster, account)}:${queue}:wait`;
  const enableTLS = String(config.redisUrl.startsWith('rediss:'));
  if (config.redisSentinel !== undefined)
    return {
      type: 'redis-sentinel',
      metadata: { listName, listLength, sentinelMaster: config.redisSentinel.name, enableTLS },
      authenticationRef: { name: 'wxim-redis-sentinel' },
    };
  return { type: config.redisCluster ? 'redis-cluster' : 'redis', metadata: { listName, listLength, enableTLS }, authenticationRef: { name: 'wxim-redis' } };
}

/**
 * A Kustomize Component that adds to each worker's ScaledObject a trigger per account of
 * ACCOUNTS_FILE other than `default` (whose queues the base's triggers watch already): each worker
 * then scales on the longest backlog of any account (KEDA takes the most replicas any trigger asks for).
 */
export function kedaAccountsComponent(config: Config, accounts: readonly string[]): Record<string, unknown> {
  const others = accounts.filter((a) => a !== 'default');
  return {
    apiVersion: 'kustomize.config.k8s.io/v1alpha1',
    kind: 'Component',
    patches:
      others.length === 0
        ? []
        : SCALED_WORKERS.map((w) => ({
            target: { group: 'keda.sh', kind: 'ScaledObject', name: w.scaledObject },
            patch: stringify(others.map((a) => ({ op: 'add', path: '/spec/triggers/-', value: accountTrigger(config, a, w.queue, w.listLength) }))),
          })),
  };
}
