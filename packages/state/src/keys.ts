import { jobKeyPrefix, queueLayout } from '@wxim/queue';
import type { AccessTokenKeys } from '@wxim/wechat';
import { type RateScope, scopeName } from './rate-scope.js';

/**
 * Where an account counts its agents' open conversations (`at`), and the other place they may have
 * been counted before, carried into it once (`from`; the same as `at` for none): see ownLoads.
 */
export interface LoadPlaces {
  at: string;
  from: string;
}

/**
 * Redis keys of the relay's own state, under the same (hash-tagged) prefix as the queues; the
 * agents' loads under `loads.at` (the IM app's where accounts share it: see accountKeys).
 */
export function stateKeys(prefix: string, loads: LoadPlaces = { at: prefix, from: prefix }) {
  const accessToken = `${prefix}:wechat:access-token`;
  return {
    customer: (openid: string) => `${prefix}:customer:${openid}`,
    openidOf: `${prefix}:openid-of`,
    /** Each agent's open conversations: the IM app's where accounts share it (see LoadPlaces). */
    agentLoad: `${loads.at}:agent-load`,
    /** Where the agents' open conversations may have been counted before (see LoadPlaces): carried into agentLoad once. */
    carriedLoad: `${loads.from}:agent-load`,
    /** The key prefix of a queue's jobs (BullMQ's naming), e.g. `wxim:wechat-inbound:`. */
    jobs: (queue: string) => jobKeyPrefix(prefix, queue),
    /** A queue's own keys (BullMQ's: wait, delayed, marker…), see queueLayout. */
    queue: (queue: string) => queueLayout(prefix, queue),
    /** A customer's line in one queue (direction): see ConversationLine. */
    line: (queue: string, openid: string) => `${prefix}:line:${queue}:${openid}`,
    /** Where the release before lines were scoped by queue kept a customer's inbound line; carried over on the next append. */
    legacyLine: (queue: string, openid: string) => (queue === 'wechat-inbound' ? `${prefix}:line:${openid}` : undefined),
    lineSeq: `${prefix}:line-seq`,
    /** Places kept in a customer's line for jobs not stored yet that must go before its head: see ConversationLine.placeAhead. */
    lineAhead: (queue: string, openid: string) => `${prefix}:line-ahead:${queue}:${openid}`,
    /** What an agent reply's job has done so far (parts sent, media uploaded, outcome): see the wechat-pusher. */
    replyProgress: (jobId: string) => `${prefix}:reply-progress:${jobId}`,
    /** How an agent reply's job ended (its outcome), kept a day after its progress went: what a late recall reads (ReplyRecall). */
    replyEnded: (jobId: string) => `${prefix}:reply-ended:${jobId}`,
    /** The agents' latest login state (State.StateChange), for routing. */
    agentState: `${prefix}:agent-state`,
    /** Customers waiting for an agent who is online with room, by when they began to wait (ms). */
    deskWaiting: `${prefix}:desk:waiting`,
    /** When each waiting customer's job last looked for an agent (ms): one that stopped looking holds no place. */
    deskWaitingSeen: `${prefix}:desk:waiting-seen`,
    /** Customers with an open conversation, by their latest message (ms): idle ones close. */
    deskActive: `${prefix}:desk:active`,
    /** Set while a customer was lately told nobody can answer yet (AUTO_REPLY_EVERY): the text is not repeated. */
    autoReplied: (openid: string) => `${prefix}:desk:auto-replied:${openid}`,
    /** Counts the closes a rating question was asked for: each close's number in the question's option ids. */
    csatSeq: `${prefix}:desk:csat-seq`,
    /** One close's rating (CSAT): the customer, the agent, when it closed, and once answered the score and when. */
    csat: (close: string) => `${prefix}:desk:csat:${close}`,
    /** Customers whose latest message awaits its agent's answer, by since when (Redis ms): FIRST_RESPONSE_SLA_S. */
    deskUnanswered: `${prefix}:desk:unanswered`,
    /** Conversations moved for a first answer overdue whose notices may not be sent yet, by move id. */
    deskSlaMovesOwed: `${prefix}:desk:sla-moves-owed`,
    /** What one such move did (to, from, openid), so that a repeated move does nothing more. */
    deskSlaMove: (moveId: string) => `${prefix}:desk:sla-move:${moveId}`,
    /** Held by the one instance checking for first answers overdue. */
    deskSlaLock: `${prefix}:desk:sla-lock`,
    /** Set once the agents' loads count the desk's open conversations (see RESET_LOADS). */
    deskLoadsOwn: `${loads.at}:desk:loads-own`,
    /** carriedLoad's deskLoadsOwn: set if its counts are the desk's own (else they are dropped, not carried). */
    carriedLoadsOwn: `${loads.from}:desk:loads-own`,
    /** When each agent was last given a customer (ms): ties go to the one idle longest. */
    agentLastAssigned: `${prefix}:desk:last-assigned`,
    /** When im-callback last showed it was running (Redis ms), written by every instance. */
    callbackHeartbeat: `${prefix}:im-callback:heartbeat`,
    /** Each running im-callback instance's latest beat (Redis ms), by instance id; removed on a clean stop. */
    callbackInstances: `${prefix}:im-callback:instances`,
    /** Time ranges in which IM's callbacks may have been missed, to look up in IM's history. */
    callbackGaps: `${prefix}:im-callback:gaps`,
    /** Customers by their latest interaction (ms): whose conversations a recovery looks through. */
    recentCustomers: `${prefix}:recent-customers`,
    /** Customers by when an agent's reply to them was last stored (ms): conversations a sweep looks through besides the recent customers'. */
    repliedCustomers: `${prefix}:replied-customers`,
    /** The sweep of IM's history: how far it has looked (`cursor`, ms) and its last run. */
    callbackSweep: `${prefix}:im-callback:sweep`,
    /** Customers whose conversation a look at IM's history failed for, by the time (ms) they are owed a look from. */
    callbackOwed: `${prefix}:im-callback:owed`,
    /** Held by the one instance looking through IM's history (a gap's recovery or a sweep): one at a time, so a customer's found replies keep their order. */
    historyLock: `${prefix}:im-callback:history-lock`,
    /** Held for a period by the instance that compares the agents' states with IM's (see im-callback's PresenceSync). */
    presenceSyncLock: `${prefix}:im-callback:presence-sync-lock`,
    /** The replies IM's history showed, per customer (MsgKey → what the history holds), for confirming their callbacks. */
    replyConfirmations: (openid: string) => `${prefix}:reply-confirmations:${openid}`,
    /**
     * What a job was first relayed with, kept for every later attempt, a retry by hand included:
     * when it first tried (Redis ms; past IM's duplicate window resends look first) and its place
     * in the store order (its MsgSeq).
     */
    relayIds: (jobId: string) => `${prefix}:relay-ids:${jobId}`,
    /** Where the release before relay ids kept a job's first attempt; read once, then removed. */
    earlierFirstAttempt: (jobId: string) => `${prefix}:first-attempt:${jobId}`,
    /** The fleet's pace of calls to one platform command (RateGate), e.g. `<prefix>:pace:im:openim/sendmsg`. */
    pace: (scope: RateScope) => `${prefix}:pace:${scopeName(scope)}`,
    /** The calls of that scope started in the last second (RateGate). */
    paceWindow: (scope: RateScope) => `${prefix}:pace-window:${scopeName(scope)}`,
    /** Written before a replica check when a job has no lock to renew (a job run by hand): see ReplicaCheck. */
    replicaMark: `${prefix}:replica-mark`,
    /** Set while WeChat shows the customer "typing…" for an agent (15 s at most; a reply ends it): not asked again meanwhile (45081). */
    typingShown: (openid: string) => `${prefix}:typing-shown:${openid}`,
    /** The customer's customer-service window (ReplyWindow): replies left, deadline, last action's time. */
    replyWindow: (openid: string) => `${prefix}:reply-window:${openid}`,
    /** A customer's voice (converted), video link or thumbnail the gateway serves by signed link, until the link expires (MediaStore). */
    media: (id: string) => `${prefix}:media:${id}`,
    /** A signed push address (WeChat's timestamp and nonce) and what it was first used for: see PushAddresses. */
    pushAddress: (timestamp: string, nonce: string) => `${prefix}:pa:${timestamp}:${nonce}`,
    /** Customers whose latest message may still be unanswered, by their window's deadline (ms): WINDOW_WARNING_MS. */
    windowWatch: `${prefix}:window-watch`,
    /** Held by the one instance looking for windows closing soon unanswered. */
    windowWarningLock: `${prefix}:window-warning-lock`,
    /** Who took the one window notice of a customer's window, told apart by its deadline (ms): see WindowNotices. */
    windowNotice: (openid: string, deadline: number) => `${prefix}:window-notice:${openid}:${deadline.toFixed(0)}`,
    /** The fleet's one WeChat access_token and the keys of its renewal (AccessTokenStore). */
    accessToken: {
      token: accessToken,
      /** Held by the one process fetching the next token. */
      lock: `${accessToken}:lock`,
      /** A digest of the token WeChat last refused. */
      failed: `${accessToken}:failed`,
      /** Set for 30 s after a forced refresh: WeChat takes one per 30 s. */
      forced: `${accessToken}:forced`,
    } satisfies AccessTokenKeys,
  };
}

export type StateKeys = ReturnType<typeof stateKeys>;
