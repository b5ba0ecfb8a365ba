/** Queue names: part of the operators' interface (dashboards, alerts). */
export const QUEUES = {
  wechatInbound: 'wechat-inbound',
  agentReplies: 'agent-replies',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/**
 * The key prefix of every queue and key. On Redis Cluster it is wrapped in a hash tag so every
 * key of the relay lands in one slot, which BullMQ's multi-key scripts require.
 */
export function keyPrefix(prefix: string, cluster: boolean): string {
  return cluster ? `{${prefix}}` : prefix;
}
