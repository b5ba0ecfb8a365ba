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

/**
 * The key prefix of one Official Account's queues and keys (ACCOUNTS_FILE): the relay's own for
 * `default`, so that a single-account deployment keeps its keys, and `<prefix>/<account>` for any
 * other ("/" is in neither a QUEUE_PREFIX nor an account id, so no two accounts' keys can meet).
 * On Redis Cluster every account shares the one hash tag: accounts that share an IM app share its
 * pace, which a job's turn checks in one script with the job's lock.
 */
export function accountPrefix(prefix: string, cluster: boolean, account: string): string {
  return account === 'default' ? keyPrefix(prefix, cluster) : `${keyPrefix(prefix, cluster)}/${account}`;
}
