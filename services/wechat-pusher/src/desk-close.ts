import { relayScripts } from '@wxim/redis-scripts';
import type { StateKeys } from '@wxim/state';
import type { Cluster, Redis } from 'ioredis';

/**
 * An agent's `/close` of their customer's conversation, in one script, once per command (its reply
 * job's id): a retried command neither frees a place twice nor touches the conversation the
 * customer's next message opened since. Answers `['closed', '', ms]` (the conversation's length,
 * -1 when its start is not known), `['closed', 'before']` (this command closed it already),
 * `['not_yours', agent]` (who serves the customer now), `['not_open']`, or `['withdrawn']` (its
 * agent recalled the command first).
 */
export function closeConversation(
  redis: Redis | Cluster,
  keys: StateKeys,
  openid: string,
  agent: string,
  commandJobId: string,
): Promise<[string, string?, number?]> {
  return relayScripts(redis).wximDeskClose(
    keys.customer(openid),
    keys.agentLoad,
    keys.deskActive,
    keys.replyProgress(commandJobId),
    keys.deskLoadsOwn,
    keys.carriedLoad,
    keys.carriedLoadsOwn,
    keys.deskUnanswered,
    openid,
    agent,
  );
}
