import type { ReplyJob } from '@wxim/queue';
import type { Lease, ReplicaCheck, ReplyWindow } from '@wxim/state';
import { LockLostError, NotOnReplicas } from '@wxim/state';
import {
  type CustomMessage,
  MEDIA_LIMITS,
  type MediaType,
  type WechatApi,
  WechatPermanentError,
  WechatRateLimitedError,
  WECHAT_APIS,
  WechatUncertainError,
  splitText,
} from '@wxim/wechat';
import type { Redis, Cluster } from 'ioredis';
import { PROGRESS_TTL_S, relayScripts, scriptsIn } from '@wxim/redis-scripts';
import type { RetryClassed } from '@wxim/host';
import { ReplyWithdrawn } from './reply-withdrawn.js';
import { MediaError, fetchMedia } from './media-fetch.js';
import type { Undelivered } from './notice.js';
import { type ReplyPart, planReply } from './reply-plan.js';
import { TYPING_SHOWN_MS, sentMark } from './typing.js';

export interface DeliveryDeps {
  redis: Redis | Cluster;
  wechat: WechatApi;
  window: ReplyWindow;
  /** The key of a job's progress hash. */
  progressKey: (jobId: string) => string;
  /** A send's turn, which confirms the job is still this worker's (throws LockLostError otherwise). */
  turn: (api: string) => Promise<number>;
  allowedHosts: string[];
  mediaTimeoutMs: number;
  /** The job's lock, checked again as a part is marked `sending`; none outside a job. */
  lease?: Pick<Lease, 'lockKey' | 'token'>;
  /** REDIS_WAIT_REPLICAS: a part's `sending` mark confirmed on the replicas before it is sent; none when 0. */
  replicas?: Pick<ReplicaCheck, 'confirm'>;
  /** The key of the mark that WeChat shows the customer "typing…": a sent part ends it (see typing.ts). */
  typingShownKey?: (openid: string) => string;
}

export type Delivery = { delivered: true; parts: number } | { delivered: false; why: Undelivered; part: number; of: number };

/** A reply's progress outlives a failed job's retention (a week), then goes (as the desk's scripts keep a command's). */
export const PROGRESS_TTL_MS = PROGRESS_TTL_S * 1000;

/**
 * WeChat keeps temporary media 3 days: an upload is used again (a part retried, or a failed reply
 * retried by hand) only this long after it was made, else the part is uploaded again.
 */
export const MEDIA_REUSE_MS = 60 * 3600 * 1000;

/**
 * WeChat's refusals of an uploaded file itself (its type, by the name's extension, or its size):
 * the part's link goes instead, as for a format WeChat never takes, and the rest of the reply after it.
 */
const FILE_REFUSED = new Set([40004, 40005, 40006, 40009, 40010, 40011, 40012, 45001]);

/**
 * How many times fetching a part's file may fail in a way that passes (a timeout, a cut connection,
 * IM's storage answering 5xx or 429) before its link goes instead, counted per part in the reply's
 * progress (`m<i>f`), one per attempt: the reply's next parts, and the customer's later replies,
 * wait behind it meanwhile (the first retries come within seconds).
 */
export const MEDIA_ATTEMPTS = 3;

/** A part's file could not be fetched this time (see MEDIA_ATTEMPTS): the reply is tried again, from that part. */
export class MediaUnavailable extends Error implements RetryClassed {
  override readonly name = 'MediaUnavailable';
  readonly retryClass = 'media';
}

/** Whether fetching a file failed in a way that may pass: not the file itself (its type, size or address). */
function passing(err: MediaError): boolean {
  return err.reason === 'timeout' || err.reason === 'network' || (err.reason === 'http_status' && (err.status === 429 || (err.status ?? 0) >= 500));
}

/**
 * Whether a part of the reply has gone, or may have: its progress holds a part's mark (`sending`,
 * `sent`, `uncertain`), the same test a recall makes in its script (WITHDRAW: 'too_late').
 */
export async function deliveryBegun(redis: Redis | Cluster, key: string): Promise<boolean> {
  return (await redis.hkeys(key)).some((field) => /^p\d+$/.test(field));
}

/**
 * How far a reply got: the first of its parts WeChat has not confirmed, of how many, and whether
 * that part may have arrived all the same (`uncertain`: it was on its way, or WeChat did not answer
 * it). A reply whose attempts ran out after some parts went is reported from there, not as wholly
 * undelivered.
 */
export async function deliveredSoFar(redis: Redis | Cluster, key: string, body: ReplyJob['body']): Promise<{ part: number; of: number; uncertain: boolean }> {
  const parts = sendable(planReply(body));
  const progress = await redis.hgetall(key);
  const part = parts.findIndex((_, i) => progress[`p${i}`] !== 'sent');
  const state = part < 0 ? undefined : progress[`p${part}`];
  return { part: part < 0 ? parts.length : part, of: parts.length, uncertain: state === 'sending' || state === 'uncertain' };
}

/** A part as it is sent: one text or one media file. Text over WeChat's limit becomes several. */
function sendable(parts: ReplyPart[]): ReplyPart[] {
  return parts.flatMap((p): ReplyPart[] => (p.kind === 'text' ? splitText(p.content).map((content) => ({ kind: 'text' as const, content })) : [p]));
}

const MEDIA_TYPE = { image: 'image', voice: 'voice', video: 'video' } as const satisfies Record<string, MediaType>;

/**
 * Delivers a reply's parts in order, recording each in the job's progress hash: `sending` just
 * before the request leaves, `sent` once WeChat confirmed it. A later attempt (retry, crash,
 * stall) sends only what is not `sent`, and never sends again a part left `sending`: custom/send is
 * not idempotent, so a part that may have arrived is reported as uncertain instead.
 */
export async function deliver(job: { id: string; data: ReplyJob }, deps: DeliveryDeps): Promise<Delivery> {
  const { redis, wechat, window } = deps;
  const key = deps.progressKey(job.id);
  const progress = await redis.hgetall(key);
  // The hash's lifetime is set with its first mark of this attempt; later marks keep it.
  let lifetimeSet = false;
  const mark = async (field: string, value: string) => {
    if (lifetimeSet) await redis.hset(key, field, value);
    else await redis.multi().hset(key, field, value).pexpire(key, PROGRESS_TTL_MS).exec();
    lifetimeSet = true;
  };
  // This part's fetches that failed in a way that passes, this one included (see MEDIA_ATTEMPTS).
  const failedFetches = async (field: string) => {
    const [[, n]] = (await redis.multi().hincrby(key, field, 1).pexpire(key, PROGRESS_TTL_MS).exec()) as [[Error | null, number]];
    return n;
  };
  // The mark that keeps a part from being sent twice must outlive a failover: on the replicas
  // before the send, or a new primary without it would let a later attempt send the part again.
  // Only if its agent has not recalled it (see undo.ts): the recall and this mark are each one
  // script on the hash, so exactly one of them wins. Throws ReplyWithdrawn when the recall did.
  const lock = [deps.lease?.lockKey ?? key, deps.lease?.token ?? ''] as const;
  const markedOrThrow = (result: unknown) => {
    if (result === -1) throw new LockLostError("the job's lock is no longer ours: not sending its part");
    if (result !== 1) throw new ReplyWithdrawn('recalled by its agent');
  };
  // A part not sent after all loses its mark; a reply its agent recalled meanwhile is withdrawn instead.
  const unmark = async (field: string) => {
    if ((await relayScripts(redis).wximReplyUnmarkSending(key, lock[0], field, PROGRESS_TTL_MS, Date.now(), lock[1])) === 0)
      throw new ReplyWithdrawn('recalled by its agent while it was on its way, which WeChat refused', true);
  };
  const markSending = async (field: string) => {
    if (deps.replicas === undefined) {
      markedOrThrow(await relayScripts(redis).wximReplyMarkSending(key, lock[0], field, PROGRESS_TTL_MS, lock[1]));
      lifetimeSet = true;
      return;
    }
    try {
      const [result] = await deps.replicas.confirm((p) => void scriptsIn(p).wximReplyMarkSending(key, lock[0], field, PROGRESS_TTL_MS, lock[1]));
      markedOrThrow(result);
    } catch (err) {
      // Not sent: the mark goes, so the next attempt sends the part rather than report it uncertain.
      if (err instanceof NotOnReplicas) await unmark(field);
      throw err;
    }
    lifetimeSet = true;
  };
  const parts = sendable(planReply(job.data.body));
  const touser = job.data.openid;
  for (const [i, part] of parts.entries()) {
    const state = progress[`p${i}`];
    if (state === 'sent') continue;
    const stop = (why: Undelivered): Delivery => ({ delivered: false, why, part: i, of: parts.length });
    if (state === 'sending' || state === 'uncertain') return stop({ kind: 'uncertain' });
    const open = await window.check(touser, Date.now());
    // No record ('never': a customer who wrote before the relay kept windows) is left to WeChat.
    if (!open.open && open.reason !== 'never') return stop({ kind: 'window', reason: open.reason });
    const lastActionAt = open.open ? open.lastActionAt : undefined;
    let message: CustomMessage;
    if (part.kind === 'text') message = { touser, msgtype: 'text', text: { content: part.content } };
    else {
      const uploadedAt = Number(progress[`m${i}t`]);
      // An upload of the release before (no time kept) is not used again: its age is not known.
      let mediaId = Date.now() - uploadedAt < MEDIA_REUSE_MS ? progress[`m${i}`] : undefined;
      if (mediaId === undefined) {
        try {
          mediaId = await upload(part, deps);
        } catch (err) {
          if (err instanceof MediaError && passing(err) && (await failedFetches(`m${i}f`)) < MEDIA_ATTEMPTS)
            throw new MediaUnavailable(`the ${part.kind} could not be fetched this time: ${err.message}`, { cause: err });
          // Still failing after those attempts: its link goes, and the rest of the reply after it.
          if (err instanceof MediaError && passing(err)) mediaId = '';
          else if (err instanceof MediaError) return stop({ kind: 'media', reason: `the ${part.kind} could not be used: ${err.message}` });
          else if (err instanceof WechatPermanentError && !FILE_REFUSED.has(err.code)) return stop({ kind: 'wechat', code: err.code });
          // Uploads over their daily quota: the link goes instead, rather than every reply waiting for
          // the next day. Too many this minute (45011) holds the queue back like any other call; while
          // one call asks WeChat whether the quota is back, the reply waits for that answer. The
          // access_token's own fetch over its quota says nothing of uploads: the reply waits too.
          else if (err instanceof WechatRateLimitedError && err.dailyQuota && err.api === WECHAT_APIS.upload && !err.awaitsProbe) mediaId = '';
          else if (err instanceof WechatPermanentError) mediaId = '';
          else throw err;
        }
        if (mediaId !== '') {
          await mark(`m${i}`, mediaId);
          await mark(`m${i}t`, String(Date.now()));
        }
      }
      message =
        mediaId === ''
          ? { touser, msgtype: 'text', text: { content: part.fallback } }
          : part.kind === 'image'
            ? { touser, msgtype: 'image', image: { media_id: mediaId } }
            : part.kind === 'voice'
              ? { touser, msgtype: 'voice', voice: { media_id: mediaId } }
              : { touser, msgtype: 'video', video: { media_id: mediaId } };
    }
    let marked = false;
    try {
      await wechat.sendCustom(message, {
        beforeSend: async (api) => {
          // Asked again after WeChat refused the token (40001): that send did not arrive, so its
          // mark goes first; a lock lost in the turn below then leaves no part marked on its way.
          if (marked) {
            await unmark(`p${i}`);
            marked = false;
          }
          await deps.turn(api);
          // Marked after the lock check: a worker that lost the job leaves no mark.
          await markSending(`p${i}`);
          marked = true;
          return true;
        },
      });
    } catch (err) {
      // Nothing left: the mark's own call may have been written with its answer lost (Redis stalled
      // past the command timeout), so it is taken back, if the job is still ours: the next attempt
      // then sends the part rather than report it may not have arrived.
      if (!marked && !(err instanceof LockLostError) && !(err instanceof ReplyWithdrawn)) {
        await unmark(`p${i}`).catch((e: unknown) => {
          if (e instanceof ReplyWithdrawn) throw e;
        });
      }
      // The job is another worker's now: its progress is theirs to write.
      if (err instanceof LockLostError || !marked) throw err;
      if (err instanceof WechatUncertainError) {
        await mark(`p${i}`, 'uncertain');
        return stop({ kind: 'uncertain' });
      }
      // WeChat answered, or the request never left: it was not delivered. What WeChat said of the
      // customer's window holds whatever became of the reply (its agent may have recalled it, and
      // the unmark below withdraws it then). Best effort: the unmark must run, or the part would
      // read as on its way; a window not recorded costs the next reply one refused call.
      if (err instanceof WechatPermanentError && (err.code === 45047 || err.code === 45015)) {
        const told = err.code === 45047 ? window.exhaust(touser, lastActionAt) : window.close(touser, lastActionAt);
        await told.catch(() => undefined);
      }
      await unmark(`p${i}`);
      if (err instanceof WechatPermanentError) return stop({ kind: 'wechat', code: err.code });
      throw err;
    }
    await mark(`p${i}`, 'sent');
    await window.consume(touser, Date.now());
    // WeChat ends "typing…" with a message: the agent's next typing may show it again, and a typing
    // signal the agent gave before this reply (running late, beside the reply's line) shows nothing.
    // "Before" by when the relay took each from IM, not by when this mark is written: a typing the
    // agent began once the reply had gone, in the moment before this line runs, is a new one.
    if (deps.typingShownKey !== undefined) await redis.set(deps.typingShownKey(touser), sentMark(job.data.acceptedAt), 'PX', TYPING_SHOWN_MS);
  }
  return { delivered: true, parts: parts.length };
}

/** Fetches a media part within WeChat's limits and uploads it as temporary media: its media_id. */
async function upload(part: Exclude<ReplyPart, { kind: 'text' }>, deps: DeliveryDeps): Promise<string> {
  const type = MEDIA_TYPE[part.kind];
  const limit = MEDIA_LIMITS[type];
  // Refused as the upload would be while its daily quota is used up, before the file is fetched for nothing.
  deps.wechat.quotas.peek(WECHAT_APIS.upload);
  const media = await fetchMedia(part.url, {
    maxBytes: limit.maxBytes,
    timeoutMs: deps.mediaTimeoutMs,
    allowedHosts: deps.allowedHosts,
    acceptTypes: [`${type === 'voice' ? 'audio' : type}/*`, 'application/octet-stream'],
  });
  // WeChat tells a file's type by its name's extension: a name without one (IM's storage, served as
  // octet-stream) takes the one IM's message gave.
  const known = part.format === 'unknown' ? undefined : part.format;
  const filename = known !== undefined && !/\.[A-Za-z0-9]{2,5}$/.test(media.filename) ? `${media.filename}.${known}` : media.filename;
  // Under the fleet's pace for uploads, and only while the job is still this worker's.
  const mediaId = await deps.wechat.uploadMedia(type, media.bytes, filename, media.contentType, {
    beforeSend: async (api) => (await deps.turn(api), true),
  });
  if (mediaId === undefined) throw new Error('the upload was skipped');
  return mediaId;
}
