import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AfterSendMsg,
  type ImClient,
  ImNotImportedError,
  ImPermanentError,
  MAX_MSG_TIME_SKEW_MS,
  afterSendFromHistory,
  decodeRelayCustomData,
  sentOrder,
} from '@wxim/im';
import { type ReplyElement, type ReplyJob, isSameReply, replyJobId } from '@wxim/queue';
import type { Lease, StateKeys } from '@wxim/state';
import type { Redis, Cluster } from 'ioredis';
import { ReplyWithdrawn } from './reply-withdrawn.js';
import { PROGRESS_TTL_MS } from './reply-delivery.js';

/** A reply as IM's history holds it: what is delivered, and the agent client's data a delivery mark merges into. */
export interface Confirmed {
  body: ReplyElement[];
  /** '' when the message has none; absent when not known (kept by an attempt of the release before). */
  cloudCustomData?: string;
  /**
   * The job ids of the agent's messages to the customer that IM's history shows were sent just
   * before this one (its second or the two before), in their order: they go first (see
   * afterEarlierMessages). From the look that confirmed the reply, or kept by another reply's look.
   */
  first?: string[];
}

/**
 * A reply IM's history does not show its agent sent, or that it cannot be asked about: never
 * delivered. Its job fails as unconfirmed, and a later look at the history that shows it (a gap's
 * recovery, a sweep) delivers it after all.
 */
export class NotConfirmed extends Error {
  override readonly name = 'NotConfirmed';
}

/**
 * IM refused to read the conversation's history with an answer the relay does not know to be
 * passing (a code of its own lists, or new): looked again as if it did not show the reply yet.
 */
class HistoryRefused extends NotConfirmed {}

export interface ConfirmDeps {
  redis: Redis | Cluster;
  keys: StateKeys;
  im: ImClient;
  /** The key of a job's progress hash, where a confirmed reply's body is kept for its later attempts. */
  progressKey: (jobId: string) => string;
  /** One history call's turn: the confirmations' share of IM's pace, then the fleet's; checks the job's lock. */
  turn: (command: string, lease?: Lease) => Promise<number>;
  /** How long to wait before each further look: IM's history may trail its callback by a moment. */
  looksAgainAfterMs?: readonly number[];
  /** REPLY_UNDO_MS: a look kept from another reply's confirmation counts for this one only if it came after this one's undo time. */
  undoMs?: number;
  log?: { warn(o: object, m: string): void };
}

/**
 * What a look showed of a message, kept for the customer's other replies, and when (ms): the
 * message's own shape with one field more, so that a pusher of the release before (a rolling
 * upgrade) still reads it as the message.
 */
type Kept = AfterSendMsg & { keptAt?: number; first?: string[] };

/** Five more looks over about five seconds. */
const LOOKS_AGAIN_AFTER_MS = [250, 500, 1000, 1500, 2000];
/** What one look showed stays this long for the customer's other replies waiting behind it. */
const SHOWN_TTL_MS = 10 * 60 * 1000;
/**
 * How far back (s) a look reaches for the agent's messages sent before a reply: IM gives a callback
 * 2 s, so one sent that long before may still call back after the reply's.
 */
const CALLBACK_BUDGET_S = 2;
/** History pages one look may read from the reply's time to now before it asks for the reply's second alone. */
const MAX_PAGES = 5;

/**
 * IM signs a callback with its token and the request time only, so anyone who captured one
 * callback URL could post any reply in any agent's name for a minute. A reply is therefore
 * delivered only once IM's own history — read with the app admin's credentials — shows its agent
 * sent it to that customer: same From, To, MsgKey, MsgTime (and MsgSeq, MsgRandom), and what is
 * delivered is the body the history holds. One look reads the conversation from the reply's time
 * to now, so the customer's later replies waiting behind it are confirmed by the same call.
 */
export class ReplyConfirmation {
  private readonly looksAgainAfterMs: readonly number[];

  constructor(private readonly deps: ConfirmDeps) {
    this.looksAgainAfterMs = deps.looksAgainAfterMs ?? LOOKS_AGAIN_AFTER_MS;
  }

  /**
   * The reply as IM's history holds it (body and CloudCustomData); throws NotConfirmed when the
   * history does not show it.
   */
  async confirm(job: { id: string; data: ReplyJob }, lease?: Lease): Promise<Confirmed> {
    const { redis } = this.deps;
    const { data } = job;
    const progress = this.deps.progressKey(job.id);
    const shared = this.deps.keys.replyConfirmations(data.openid);
    // An earlier attempt's confirmation, or what a look for an earlier reply of the customer kept.
    const [[earlier, earlierData, earlierFirst], kept] = await Promise.all([
      redis.hmget(progress, 'confirmed', 'confirmedData', 'first'),
      redis.hget(shared, data.msgKey),
    ]);
    if (earlier !== null && earlier !== undefined) {
      // Kept apart from the body: an attempt of the release before kept the body alone.
      return {
        body: JSON.parse(earlier) as ReplyElement[],
        ...(earlierData === null || earlierData === undefined ? {} : { cloudCustomData: earlierData }),
        ...(earlierFirst === null || earlierFirst === undefined ? {} : { first: JSON.parse(earlierFirst) as string[] }),
      };
    }
    if (Math.abs(data.msgTime * 1000 - data.acceptedAt) > MAX_MSG_TIME_SKEW_MS) {
      throw new NotConfirmed(`its MsgTime (${new Date(data.msgTime * 1000).toISOString()}) is not when IM called back`);
    }
    // A look made before the agent could no longer recall this reply may not show its recall (whose
    // callback may have been lost): it counts only if made after the reply's undo time.
    const keptCopy = kept === null ? undefined : (JSON.parse(kept) as Kept);
    const { keptAt, first: keptFirst, ...copy } = keptCopy ?? {};
    const usable = keptCopy !== undefined && (keptAt ?? 0) >= data.acceptedAt + (this.deps.undoMs ?? 0) ? (copy as AfterSendMsg) : undefined;
    for (let look = 0; ; look++) {
      let seen: { shown: AfterSendMsg | undefined; first: string[] };
      try {
        seen = look === 0 && usable !== undefined ? { shown: usable, first: keptFirst ?? [] } : await this.look(data, lease);
      } catch (err) {
        if (!(err instanceof HistoryRefused) || this.looksAgainAfterMs[look] === undefined) throw err;
        seen = { shown: undefined, first: [] };
      }
      const { shown, first } = seen;
      if (shown !== undefined) {
        const body = this.matching(data, shown);
        // '' when the history shows none: known to be empty, so a mark may go there.
        const cloudCustomData = shown.cloudCustomData ?? '';
        await redis
          .multi()
          .hset(progress, { confirmed: JSON.stringify(body), confirmedData: cloudCustomData, ...(first.length === 0 ? {} : { first: JSON.stringify(first) }) })
          .pexpire(progress, PROGRESS_TTL_MS)
          .exec();
        return { body, cloudCustomData, ...(first.length === 0 ? {} : { first }) };
      }
      const wait = this.looksAgainAfterMs[look];
      if (wait === undefined) throw new NotConfirmed(`IM's history does not show ${data.agent} sent it to the customer`);
      await sleep(wait);
    }
  }

  /**
   * For a reply found in IM's history (a sweep, a gap's recovery) rather than confirmed there:
   * throws ReplyWithdrawn when the history now shows its agent recalled it. Looked at once its undo
   * time is over: the recall's callback may have been lost as the reply's own was. Once a look
   * showed it not recalled, later attempts need none.
   */
  async notRecalled(job: { id: string; data: ReplyJob }, lease?: Lease): Promise<void> {
    const { redis } = this.deps;
    const progress = this.deps.progressKey(job.id);
    if ((await redis.hget(progress, 'recallLooked')) !== null) return;
    let shown: AfterSendMsg | undefined;
    for (let look = 0; ; look++) {
      try {
        shown = (await this.read(job.data, lease)).get(job.data.msgKey);
        break;
      } catch (err) {
        if (!(err instanceof HistoryRefused)) throw err;
        const wait = this.looksAgainAfterMs[look];
        if (wait === undefined) {
          // The history showed the reply already; only a recall whose callback was lost too would
          // be missed. Failing a genuine reply for it would lose it: no later look would revive it.
          this.deps.log?.warn(
            { jobId: job.id, agent: job.data.agent, reason: err.message },
            'IM refused the history of a reply found there: it goes without a look for a recall whose callback was lost',
          );
          return;
        }
        await sleep(wait);
      }
    }
    if (shown?.recalled === true) throw new ReplyWithdrawn("IM's history shows its agent recalled it");
    await redis.multi().hset(progress, 'recallLooked', '1').pexpire(progress, PROGRESS_TTL_MS).exec();
  }

  /** The body, once what the history shows under the reply's MsgKey is the same message. */
  private matching(data: ReplyJob, shown: AfterSendMsg): ReplyElement[] {
    if (!isSameReply(data, shown)) throw new NotConfirmed("IM's history holds another message under its MsgKey");
    // Its agent recalled it, and the recall's callback never came (or not yet): it never goes.
    if (shown.recalled === true) throw new ReplyWithdrawn("IM's history shows its agent recalled it");
    return shown.msgBody;
  }

  /**
   * One look at the history: the reply as it shows it, and the job ids of the agent's messages it
   * shows sent just before (see Confirmed.first); the customer's other messages it shows are kept
   * for their own confirmations.
   */
  private async look(data: ReplyJob, lease?: Lease): Promise<{ shown: AfterSendMsg | undefined; first: string[] }> {
    const at = Date.now();
    const found = await this.read(data, lease);
    const others = [...found].filter(([msgKey]) => msgKey !== data.msgKey);
    // Each kept with the agent's messages this look showed sent just before it, for its own order.
    const all = [...found.values()];
    if (others.length > 0) {
      const shared = this.deps.keys.replyConfirmations(data.openid);
      await this.deps.redis
        .multi()
        .hset(
          shared,
          Object.fromEntries(others.map(([msgKey, m]) => [msgKey, JSON.stringify({ ...m, keptAt: at, first: sentJustBefore(m, all) } satisfies Kept)])),
        )
        .pexpire(shared, SHOWN_TTL_MS)
        .exec();
    }
    const shown = found.get(data.msgKey);
    return { shown, first: shown === undefined ? [] : sentJustBefore(shown, all) };
  }

  /** The messages to the customer the history shows from CALLBACK_BUDGET_S before the reply's second to now (or around its second alone, past MAX_PAGES). */
  private async read(data: ReplyJob, lease?: Lease): Promise<Map<string, AfterSendMsg>> {
    const found = new Map<string, AfterSendMsg>();
    const options = { beforeSend: async (command: string) => (await this.deps.turn(command, lease), true) };
    const read = async (from: number, to: number, maxPages: number) => {
      let pages = 0;
      // From the customer's side, the relay's own account: an agent who deleted the conversation in
      // their client (and its messages on IM's server, for their side) no longer sees it from theirs.
      for await (const page of this.deps.im.history(data.userId, data.agent, from, to, options)) {
        for (const m of page) if (m.To_Account === data.userId) found.set(m.MsgKey, afterSendFromHistory(m));
        if (++pages >= maxPages) return false;
      }
      return true;
    };
    try {
      const complete = await read(data.msgTime - CALLBACK_BUDGET_S, Math.ceil(Date.now() / 1000) + 1, MAX_PAGES);
      // Newest first: a long conversation since the reply leaves the reply itself on a later page.
      if (!complete && !found.has(data.msgKey)) await read(data.msgTime - 1, data.msgTime + 1, MAX_PAGES);
    } catch (err) {
      // The customer's account is gone from IM (deleted on their unfollow), or the agent's: the
      // reply can neither be confirmed nor reach them. Failed now, not retried for hours while the
      // customer's later replies wait behind it (and it go first, stale, should they follow again).
      if (err instanceof ImNotImportedError) throw new NotConfirmed(`IM holds no account for one side of the conversation: ${err.message}`);
      // Any other refusal IM means for good is about the history, not the reply: looked again.
      if (err instanceof ImPermanentError) throw new HistoryRefused(`IM refused to read the conversation's history: ${err.message}`);
      throw err;
    }
    return found;
  }
}

/**
 * The job ids of the messages among `others` that the reply's agent sent the customer just before
 * it (in its second or the CALLBACK_BUDGET_S before; IM orders a conversation by MsgTime, then
 * MsgSeq), in that order: the ones im-callback stores as replies (delivered, not recalled, not the
 * relay's own). The reply itself, if among them, is not before itself.
 */
function sentJustBefore(reply: AfterSendMsg, others: readonly AfterSendMsg[]): string[] {
  return others
    .filter(
      (m) =>
        m.fromAccount === reply.fromAccount &&
        m.toAccount === reply.toAccount &&
        m.msgTime >= reply.msgTime - CALLBACK_BUDGET_S &&
        sentOrder(m, reply) < 0 &&
        m.sendMsgResult === 0 &&
        m.recalled !== true &&
        decodeRelayCustomData(m.cloudCustomData) === undefined,
    )
    .sort(sentOrder)
    .map((m) => replyJobId(m.msgKey));
}
