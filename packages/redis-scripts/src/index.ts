import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { LOAD_DRIFT, RECORD_STATE, RECOUNT, RELEASE } from './scripts/agents.js';
import { AUTO_REPLY, CLOSE, RELEASE_UNREACHED, TRANSFER } from './scripts/desk.js';
import { CLAIM } from './scripts/identity.js';
import { APPEND, FINISH, HEAD, PLACE_AHEAD, TURN } from './scripts/line.js';
import { PACE } from './scripts/pace.js';
import { HOLD_QUEUE, WAKE_TO_FRONT } from './scripts/queue.js';
import { BEGIN, FORGET_FIRST_AGENT } from './scripts/relay-begin.js';
import { ANSWERED, SLA_MOVE } from './scripts/service-levels.js';
import { RELAYED } from './scripts/relayed.js';
import { CONSUME, END, RECORD } from './scripts/reply-window.js';
import { HEARTBEAT } from './scripts/callback-watch.js';
import { TOKEN_DROP_IF_STORED } from './scripts/access-token.js';
import { LOCK_RELEASE, LOCK_RENEW } from './scripts/lock.js';
import { MARK_SENDING, UNMARK_SENDING, WITHDRAW } from './scripts/reply-undo.js';
import { HSET_IF_KEPT } from './scripts/progress.js';
import { PUSH_ADDRESS_ONCE } from './scripts/push-address.js';
import { ANSWERED as WINDOW_ANSWERED, LAST_REPLY_CLAIM, WARN_CLAIM, WARNED } from './scripts/window-notices.js';

export { LINE_TTL_S } from './scripts/line.js';
export { PROGRESS_TTL_S } from './scripts/desk.js';
export { RELAY_IDS_TTL_S } from './scripts/relay-begin.js';
export { MOVE_TTL_S } from './scripts/service-levels.js';

/**
 * Every Lua script of the relay, registered in this one place (the services' state, the queues'
 * holds, the WeChat token): each connection gets all of them
 * once (ioredis sends EVALSHA and loads a script Redis does not know yet), under names no other
 * code uses. The scripts' sources, with what their KEYS and ARGV are, live in ./scripts.
 */
const SCRIPTS = {
  wximLineAppend: { numberOfKeys: 4, lua: APPEND },
  wximLineTurn: { numberOfKeys: 1, lua: TURN },
  wximLineHead: { numberOfKeys: 1, lua: HEAD },
  wximLineFinish: { numberOfKeys: 8, lua: FINISH },
  wximLinePlaceAhead: { numberOfKeys: 10, lua: PLACE_AHEAD },
  // 18 keys, then three per other account of the IM app (see otherDesks): their number comes first.
  wximRelayBegin: { lua: BEGIN },
  wximRelayForgetFirstAgent: { numberOfKeys: 2, lua: FORGET_FIRST_AGENT },
  wximReleaseAgent: { numberOfKeys: 8, lua: RELEASE },
  wximRecordAgentState: { numberOfKeys: 1, lua: RECORD_STATE },
  // As many keys as accounts share the IM app: their number comes first.
  wximRecountLoads: { lua: RECOUNT },
  // 1 + as many keys as accounts share the IM app: their number comes first.
  wximLoadDrift: { lua: LOAD_DRIFT },
  wximDeskTransfer: { numberOfKeys: 9, lua: TRANSFER },
  wximDeskClose: { numberOfKeys: 8, lua: CLOSE },
  wximDeskReleaseUnreached: { numberOfKeys: 6, lua: RELEASE_UNREACHED },
  // 10 keys, then three per other account of the IM app (see otherDesks): their number comes first.
  wximDeskAutoReply: { lua: AUTO_REPLY },
  wximDeskAnswered: { numberOfKeys: 2, lua: ANSWERED },
  wximDeskSlaMove: { numberOfKeys: 12, lua: SLA_MOVE },
  wximClaimUserId: { numberOfKeys: 2, lua: CLAIM },
  wximPace: { numberOfKeys: 3, lua: PACE },
  wximWakeToFront: { numberOfKeys: 7, lua: WAKE_TO_FRONT },
  wximHoldQueue: { numberOfKeys: 1, lua: HOLD_QUEUE },
  wximReplyRecord: { numberOfKeys: 2, lua: RECORD },
  wximReplyConsume: { numberOfKeys: 1, lua: CONSUME },
  wximReplyEnd: { numberOfKeys: 1, lua: END },
  wximCallbackHeartbeat: { numberOfKeys: 3, lua: HEARTBEAT },
  wximLockRelease: { numberOfKeys: 1, lua: LOCK_RELEASE },
  wximLockRenew: { numberOfKeys: 1, lua: LOCK_RENEW },
  wximTokenDropIfStored: { numberOfKeys: 1, lua: TOKEN_DROP_IF_STORED },
  wximReplyWithdraw: { numberOfKeys: 4, lua: WITHDRAW },
  wximReplyMarkSending: { numberOfKeys: 2, lua: MARK_SENDING },
  wximReplyUnmarkSending: { numberOfKeys: 2, lua: UNMARK_SENDING },
  wximRelayed: { numberOfKeys: 4, lua: RELAYED },
  wximWindowAnswered: { numberOfKeys: 2, lua: WINDOW_ANSWERED },
  wximWindowWarnClaim: { numberOfKeys: 3, lua: WARN_CLAIM },
  wximWindowWarned: { numberOfKeys: 1, lua: WARNED },
  wximWindowLastReplyClaim: { numberOfKeys: 2, lua: LAST_REPLY_CLAIM },
  wximHsetIfKept: { numberOfKeys: 1, lua: HSET_IF_KEPT },
  wximPushAddressOnce: { numberOfKeys: 1, lua: PUSH_ADDRESS_ONCE },
} as const;

/** A queue's keys a script needs to wake a job that stepped aside (see WAKE_TO_FRONT): delayed, wait, meta, active, marker, events. */
export type WakeKeys = [delayed: string, wait: string, meta: string, active: string, marker: string, events: string];

/** The scripts as commands, with the types of what they return. */
export interface RelayScripts {
  wximLineAppend(line: string, seq: string, legacyLine: string, ahead: string, jobId: string, ttl: number, jobPrefix: string): Promise<number>;
  wximLinePlaceAhead(
    ...args: [
      line: string,
      ahead: string,
      progress: string,
      ...wake: WakeKeys,
      lock: string,
      jobPrefix: string,
      head: string,
      keepMs: number,
      keep: '1' | '0',
      token: string,
      ...ids: string[],
    ]
  ): Promise<[string[], string[]] | null | -1>;
  wximLineTurn(line: string, jobPrefix: string, jobId: string): Promise<'head' | 'waiting' | 'absent'>;
  wximLineHead(line: string, jobPrefix: string): Promise<string | null>;
  wximLineFinish(...args: [line: string, relayIds: string, ...wake: WakeKeys, jobPrefix: string, jobId: string, keepIds: '1' | '0']): Promise<string | null>;
  wximRelayBegin(
    numberOfKeys: number,
    ...args: string[]
  ): Promise<[string, string | null, string | null, string | null, string, string, number, number?, (string | null)?, number?, (string | null)?]>;
  wximRelayForgetFirstAgent(relayIds: string, lock: string, token: string, agent: string): Promise<number>;
  wximReleaseAgent(
    customer: string,
    load: string,
    active: string,
    waiting: string,
    seen: string,
    mark: string,
    own: string,
    ownMark: string,
    openid: string,
  ): Promise<string | null>;
  wximRecordAgentState(agentState: string, agent: string, state: string, eventTime: string): Promise<number>;
  wximRecountLoads(numberOfKeys: number, ...keysThenArgs: string[]): Promise<number>;
  wximLoadDrift(numberOfKeys: number, ...keysThenArgs: string[]): Promise<number>;
  wximDeskTransfer(...args: string[]): Promise<[string, string?]>;
  wximDeskClose(
    customer: string,
    load: string,
    active: string,
    progress: string,
    mark: string,
    own: string,
    ownMark: string,
    unanswered: string,
    openid: string,
    agent: string,
  ): Promise<[string, string?, number?]>;
  wximDeskReleaseUnreached(
    customer: string,
    load: string,
    active: string,
    mark: string,
    own: string,
    ownMark: string,
    openid: string,
    job: string,
  ): Promise<string | null>;
  wximDeskAutoReply(numberOfKeys: number, ...args: string[]): Promise<'off_hours' | 'waiting' | null>;
  wximDeskAnswered(customer: string, unanswered: string, openid: string, agent: string, sentAtMs: string): Promise<number>;
  wximDeskSlaMove(...args: string[]): Promise<[string, string?, string?, string?]>;
  wximClaimUserId(customer: string, openidOf: string, openid: string, ...candidates: string[]): Promise<string | null>;
  wximPace(
    pace: string,
    window: string,
    lock: string,
    intervalUs: number,
    cap: number,
    token: string,
    lockMs: number,
    member: string,
    mode: 'take' | 'start' | 'try',
  ): Promise<[number, number]>;
  wximWakeToFront(delayed: string, wait: string, meta: string, active: string, marker: string, events: string, job: string, jobId: string): Promise<number>;
  wximHoldQueue(limiterKey: string, ms: string, mark: string): Promise<number>;
  wximReplyRecord(
    window: string,
    recent: string,
    atMs: string,
    replies: number,
    periodMs: number,
    marginMs: number,
    openid: string,
    recentMs: number,
    actionId: string,
  ): Promise<number>;
  wximReplyConsume(window: string, nowMs: string): Promise<number>;
  wximReplyEnd(window: string, field: 'remaining' | 'deadline', lastActionAt: string): Promise<number>;
  wximCallbackHeartbeat(
    heartbeat: string,
    gaps: string,
    instances: string,
    fleetSilenceMs: number,
    instance: string,
    instanceSilenceMs: number,
    mode: 'beat' | 'stop',
  ): Promise<[number, number, number, string[]]>;
  wximLockRelease(lock: string, owner: string): Promise<number>;
  wximLockRenew(lock: string, owner: string, ms: number): Promise<number>;
  wximTokenDropIfStored(key: string, token: string): Promise<number>;
  wximReplyWithdraw(
    progress: string,
    ended: string,
    job: string,
    dedupe: string,
    ttlMs: number,
    atMs: string,
  ): Promise<'stopped' | 'too_late' | 'unknown' | 'finished' | 'carried_out'>;
  wximReplyMarkSending(progress: string, lock: string, field: string, ttlMs: number, token: string): Promise<number>;
  wximReplyUnmarkSending(progress: string, lock: string, field: string, ttlMs: number, nowMs: number, token: string): Promise<number>;
  wximRelayed(
    unanswered: string,
    window: string,
    watch: string,
    customer: string,
    openid: string,
    nowMs: string,
    cap: number,
    mark: '1' | '0',
    watchOn: '1' | '0',
    messageAtMs: string,
  ): Promise<[number, string | null]>;
  wximWindowAnswered(window: string, watch: string, openid: string, sentAtMs: string, messageGrantMs: number): Promise<number>;
  wximWindowWarnClaim(
    window: string,
    watch: string,
    notice: string,
    openid: string,
    deadline: string,
    nowMs: string,
    grantMs: number,
    marginMs: number,
  ): Promise<number>;
  wximWindowWarned(watch: string, openid: string, deadline: string): Promise<number>;
  wximWindowLastReplyClaim(window: string, notice: string, deadline: string, nowMs: string, jobId: string, marginMs: number): Promise<number>;
  wximHsetIfKept(hash: string, field: string, value: string, ttlMs: number): Promise<number>;
  wximPushAddressOnce(address: string, use: string, ttlS: number): Promise<number>;
}

/** The names of the relay's scripts. */
export type RelayScriptName = keyof typeof SCRIPTS;

/** The scripts defined on each connection so far, and the connections that have all of them. */
const defined = new WeakMap<object, Set<string>>();
const complete = new WeakSet<object>();

/** The connection with every script of the relay registered (once per connection). */
export function relayScripts(redis: Redis | Cluster): RelayScripts {
  if (!complete.has(redis)) {
    relayScriptsOnly(redis, Object.keys(SCRIPTS) as RelayScriptName[]);
    complete.add(redis);
  }
  return redis as unknown as RelayScripts;
}

/**
 * The connection with only `names` registered (those it lacks). ioredis copies every script of a
 * connection onto each MULTI or pipeline made from it, so a connection that makes one per message
 * (the gateway's store) carries only the few its transactions run.
 */
export function relayScriptsOnly(redis: Redis | Cluster, names: readonly RelayScriptName[]): RelayScripts {
  let has = defined.get(redis);
  if (has === undefined) defined.set(redis, (has = new Set()));
  for (const name of names) {
    if (has.has(name)) continue;
    redis.defineCommand(name, SCRIPTS[name]);
    has.add(name);
  }
  return redis as unknown as RelayScripts;
}

/** The scripts on a transaction or pipeline of a connection given to {@link relayScripts}. */
export function scriptsIn(transaction: ChainableCommander): RelayScripts {
  return transaction as unknown as RelayScripts;
}
