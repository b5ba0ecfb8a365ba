import { type MsgElement, soundElem, videoFileElem } from '@wxim/im';
import { type MediaStore, mediaEntryId, signMediaToken } from '@wxim/state';
import {
  MEDIA_LIFETIME_MS,
  type WechatApi,
  WechatCredentialError,
  type WechatMessage,
  WechatPermanentError,
  WechatRateLimitedError,
  WechatTransientError,
  WechatUncertainError,
  amrInfo,
  jpegSize,
} from '@wxim/wechat';
import { MP3_BITRATE, TranscodeError, type VoiceTranscoder } from './voice-transcode.js';

/** What is read from WeChat at most: a voice (WeChat takes 2 MB), a thumbnail (64 KB), a video's link JSON. */
export const MEDIA_READ_LIMITS = { voice: 2 * 1024 * 1024, thumb: 256 * 1024, videoLink: 64 * 1024 } as const;

/** A download WeChat answers "busy" (or not at all) is tried on this many attempts of the job; then the note goes. */
export const MEDIA_ATTEMPTS = 3;

/**
 * WeChat's "too many calls this minute" (45011) on a download is waited out once: the job sleeps
 * at the head of its customer's line for WeChat's minute (no attempt spent, nobody else held) and
 * downloads again; a 45011 later than this long after the job's first attempt gives the note.
 */
export const MEDIA_MINUTE_WAIT_MS = 60_000;

/** Why the agent got the text note instead of the media (a metric label). */
export type NoteReason = 'expired' | 'refused' | 'unconvertible' | 'no_ffmpeg' | 'rate_limited' | 'configuration' | 'unavailable';

export interface MediaLog {
  warn(fields: object, message: string): void;
}

export interface CustomerMediaOptions {
  wechat: Pick<WechatApi, 'getMedia'>;
  store: MediaStore;
  transcoder: VoiceTranscoder;
  /** MEDIA_PUBLIC_URL: where agents' IM clients reach the gateway. */
  publicUrl: string;
  /** With ACCOUNTS_FILE, an account other than `default`: its links are /media/<account>/<token>, which the gateway hands to it. */
  account?: string;
  /** MEDIA_URL_SECRET. */
  secret: string;
  log: MediaLog;
  /** Counts a note sent instead of the media, by kind and reason. */
  noted?(kind: string, reason: NoteReason): void;
  /** How long a 45011 is waited out (MEDIA_MINUTE_WAIT_MS); tests shorten it. */
  minuteWaitMs?: number;
}

/** The turn of one WeChat call (the fleet's WeChat pace, the job's lock). */
export type WechatTurn = (api: string) => Promise<unknown>;

/** What of the job the media decision depends on. */
export interface MediaJob {
  /** When the job first tried to relay (ms): with the push's CreateTime, when the links expire. */
  firstAttemptAt: number;
  /** This attempt of the job, from 1. */
  attempt: number;
  /** The job's attempts in all. */
  attempts: number;
  turn: WechatTurn;
}

/**
 * When a customer's media and its links expire (seconds): WeChat's 3 days from the push's
 * CreateTime, counted from the job's first attempt instead when that is earlier — a CreateTime
 * in the future (a wrong clock, a forged push) must not make a link or a Redis key live longer.
 * Both are fixed for the job, so every attempt signs the same links.
 */
export function mediaExpiresAt(createTime: number, firstAttemptAtMs: number): number {
  return Math.min(createTime, Math.floor(firstAttemptAtMs / 1000)) + MEDIA_LIFETIME_MS / 1000;
}

/**
 * How long past the media's expiry what an attempt decided is kept (the stored entry, or the
 * note's record): a retry within IM's duplicate window (120 s) of an attempt that sent the element
 * must send it again identical, for IM to drop it, not a note that the media has expired (later
 * retries look in IM's history first). The links end at the expiry all the same.
 */
export const MEDIA_DECISION_KEPT_MS = 10 * 60_000;

/**
 * A customer's voice or video as an IM element the agent can open: the media fetched from WeChat
 * once, kept in Redis (a voice converted to MP3, a thumbnail) or linked (a video, streamed from
 * WeChat on demand), and offered through signed links to the gateway's /media/. Undefined means
 * "send the text note instead". Whichever it is, the choice is recorded under the media's entry
 * id before anything is sent, and every later attempt of the job makes the same one: a job run
 * twice sends an identical IM message, which IM drops as a duplicate.
 *
 * The media never holds up anyone else's conversation: WeChat's daily limit (45009 for the rest of
 * the day) and setup errors (an IP not on the whitelist) give the note at once — not a hold on the
 * whole queue —, its minute limit (45011) is waited out once by this customer's line alone, and a
 * download that keeps failing (busy, a token renewed elsewhere) gives it after MEDIA_ATTEMPTS attempts.
 */
export class CustomerMedia {
  constructor(private readonly options: CustomerMediaOptions) {}

  async element(message: WechatMessage, job: MediaJob): Promise<MsgElement | undefined> {
    if (message.kind !== 'voice' && message.kind !== 'video' && message.kind !== 'shortvideo') return undefined;
    const { store } = this.options;
    const decisionId = mediaEntryId(message.kind === 'voice' ? 'voice' : 'video', message.mediaId);
    if (await store.noted(decisionId)) return undefined;
    const expiresAt = mediaExpiresAt(message.createTime, job.firstAttemptAt);
    // WeChat no longer holds it: nothing to fetch, and no link could live; unless an earlier attempt
    // stored the element, which it may have sent: the same element again, for IM to drop.
    if (expiresAt * 1000 <= Date.now() && !(await this.stored(message)))
      return this.note(message.kind, decisionId, 'expired', 'the media has expired', expiresAt);
    try {
      return message.kind === 'voice'
        ? await this.voice(message.mediaId, message.format, expiresAt, job.turn)
        : await this.video(message.mediaId, message.thumbMediaId, expiresAt, job.turn);
    } catch (err) {
      const waitMs = this.options.minuteWaitMs ?? MEDIA_MINUTE_WAIT_MS;
      if (minuteLimited(err) && Date.now() - job.firstAttemptAt < waitMs) throw new MediaMinuteWait(waitMs, (err as Error).message);
      const reason = noteReason(err, job);
      if (reason === undefined) throw err instanceof WechatCredentialError ? new MediaTokenRefused(err.message) : err;
      return this.note(message.kind, decisionId, reason, (err as Error).message, expiresAt);
    }
  }

  /** Whether an earlier attempt stored everything the media's element is made of. */
  private async stored(message: Extract<WechatMessage, { kind: 'voice' | 'video' | 'shortvideo' }>): Promise<boolean> {
    const { store } = this.options;
    if (message.kind === 'voice') return (await store.meta(mediaEntryId('voice', message.mediaId))) !== undefined;
    return (
      (await store.meta(mediaEntryId('video', message.mediaId))) !== undefined && (await store.meta(mediaEntryId('thumb', message.thumbMediaId))) !== undefined
    );
  }

  /** Stores an entry for as long as what it decides is kept; throws Expired when the media expired meanwhile. */
  private async put(id: string, entry: Parameters<MediaStore['put']>[1], expiresAt: number): Promise<void> {
    if (expiresAt * 1000 <= Date.now() || !(await this.options.store.put(id, entry, expiresAt * 1000 + MEDIA_DECISION_KEPT_MS)))
      throw new Expired('the media expired meanwhile');
  }

  private async note(kind: string, id: string, reason: NoteReason, detail: string, expiresAt: number): Promise<undefined> {
    await this.options.store.putNote(id, reason, expiresAt * 1000 + MEDIA_DECISION_KEPT_MS);
    this.options.noted?.(kind, reason);
    this.options.log.warn({ kind, reason, detail }, "a customer's media could not be relayed; the agent gets a text note");
    return undefined;
  }

  private link(id: string, expiresAt: number): string {
    const account = this.options.account === undefined ? '' : `${this.options.account}/`;
    return `${this.options.publicUrl}/media/${account}${signMediaToken(this.options.secret, id, expiresAt)}`;
  }

  private async voice(mediaId: string, format: string, expiresAt: number, turn: WechatTurn): Promise<MsgElement | undefined> {
    const { store } = this.options;
    const id = mediaEntryId('voice', mediaId);
    // An earlier attempt of this job stored it: the same bytes, the same element.
    let meta = await store.meta(id);
    if (meta === undefined) {
      if (!(await this.options.transcoder.available())) throw new NoFfmpeg('ffmpeg is not installed');
      const recording = await this.file(mediaId, MEDIA_READ_LIMITS.voice, turn);
      const mp3 = await this.options.transcoder.toMp3(recording, format);
      // 20 ms AMR frames give the exact length; other formats (Speex) the MP3's constant bitrate.
      const amr = amrInfo(recording);
      const seconds = amr !== undefined ? amr.durationMs / 1000 : (mp3.length * 8) / MP3_BITRATE;
      const info = { seconds: Math.max(1, Math.round(seconds)) };
      await this.put(id, { contentType: 'audio/mpeg', bytes: mp3, info }, expiresAt);
      meta = { contentType: 'audio/mpeg', size: mp3.length, info };
    }
    return soundElem(this.link(id, expiresAt), id, meta.size, meta.info['seconds'] ?? 1);
  }

  private async video(mediaId: string, thumbMediaId: string, expiresAt: number, turn: WechatTurn): Promise<MsgElement | undefined> {
    const { store } = this.options;
    const videoId = mediaEntryId('video', mediaId);
    const thumbId = mediaEntryId('thumb', thumbMediaId);
    if ((await store.meta(videoId)) === undefined) {
      const got = await this.options.wechat.getMedia(mediaId, MEDIA_READ_LIMITS.videoLink, { beforeSend: async (api) => (await turn(api), true) });
      // An http or https link, as WeChat gives (plain http for its videos): checked by getMedia.
      if (got?.kind !== 'video') throw new MediaRefused('media/get gave no video link');
      await this.put(videoId, { contentType: 'video/mp4', url: got.videoUrl }, expiresAt);
    }
    let thumb = await store.meta(thumbId);
    if (thumb === undefined) {
      const bytes = await this.file(thumbMediaId, MEDIA_READ_LIMITS.thumb, turn);
      const size = jpegSize(bytes);
      if (size === undefined) throw new MediaRefused('the thumbnail is not a JPEG');
      const info = { width: size.width, height: size.height };
      await this.put(thumbId, { contentType: 'image/jpeg', bytes, info }, expiresAt);
      thumb = { contentType: 'image/jpeg', size: bytes.length, info };
    }
    // Size and length 0 (unknown): learning them means reading the whole video at relay time
    // (tens of MB, its index possibly at the end), for two numbers clients show only as a hint.
    return videoFileElem({
      url: this.link(videoId, expiresAt),
      uuid: videoId,
      size: 0,
      seconds: 0,
      thumb: {
        url: this.link(thumbId, expiresAt),
        uuid: thumbId,
        size: thumb.size,
        width: thumb.info['width'] ?? 0,
        height: thumb.info['height'] ?? 0,
        format: 'JPG',
      },
    });
  }

  private async file(mediaId: string, maxBytes: number, turn: WechatTurn): Promise<Buffer> {
    const got = await this.options.wechat.getMedia(mediaId, maxBytes, { beforeSend: async (api) => (await turn(api), true) });
    if (got?.kind !== 'file') throw new MediaRefused('media/get gave no file');
    return got.bytes;
  }
}

/** The media is not something the relay can offer (a link where a file was expected, not https, not a JPEG). */
class MediaRefused extends Error {
  override readonly name = 'MediaRefused';
}

/**
 * The download met WeChat's minute limit: the job waits `waitMs` at the head of its line (the
 * queue's policy: `wait`, no attempt spent), then downloads again. Only this customer's messages
 * wait; the rest of the queue goes on.
 */
export class MediaMinuteWait extends Error {
  override readonly name = 'MediaMinuteWait';
  readonly retryClass = 'rate_limited';
  constructor(
    readonly waitMs: number,
    reason: string,
  ) {
    super(`media/get: too many calls this minute, waiting ${waitMs} ms before downloading again (${reason})`);
  }
}

/**
 * WeChat refused the fleet's access_token again right after renewing it: tried on the job's next
 * attempt, counted as `wechat_token` (not as IM's `credential`, whose alert pages about IM's keys).
 */
class MediaTokenRefused extends Error {
  override readonly name = 'MediaTokenRefused';
  readonly retryClass = 'wechat_token';
  constructor(reason: string) {
    super(`media/get: WeChat refused the access_token again after renewing it (${reason})`);
  }
}

/** 45011 from WeChat itself (not the client's daily hold, nor its wait for a probe). */
function minuteLimited(err: unknown): boolean {
  return err instanceof WechatRateLimitedError && !err.dailyQuota && err.local === undefined;
}

class NoFfmpeg extends Error {
  override readonly name = 'NoFfmpeg';
}

class Expired extends Error {
  override readonly name = 'Expired';
}

/**
 * Whether an error met while getting the media means "send the note", and why; undefined leaves
 * it to the job's own policy (Redis, a lost lock, a bug). Only WeChat's answers to the download
 * are caught here, so none of them reaches the queue's policy, where "too many calls" would hold
 * every customer's messages back.
 */
function noteReason(err: unknown, job: MediaJob): NoteReason | undefined {
  if (err instanceof Expired) return 'expired';
  if (err instanceof NoFfmpeg) return 'no_ffmpeg';
  // ffmpeg refused the recording: the note. The machine failed it (killed, out of time or of
  // processes): tried again on the job's next attempts, like a busy download, then the note.
  if (err instanceof TranscodeError) return err.passing && job.attempt < Math.min(MEDIA_ATTEMPTS, job.attempts) ? undefined : 'unconvertible';
  if (err instanceof MediaRefused || err instanceof WechatPermanentError) return 'refused';
  // While one call asks WeChat whether the quota is back, the job waits for that answer (see DailyQuotas).
  if (err instanceof WechatRateLimitedError) return err.awaitsProbe ? undefined : 'rate_limited';
  // A renewable token error (40001, 42001) was renewed once by the client already; another holder
  // of the app's secret renewing it meanwhile does that too: tried again on the job's next attempts,
  // like a busy download. The rest (a wrong secret, an IP not whitelisted) needs an operator: the note.
  if (err instanceof WechatCredentialError) {
    if (!err.renewable) return 'configuration';
    return job.attempt < Math.min(MEDIA_ATTEMPTS, job.attempts) ? undefined : 'unavailable';
  }
  // A download only reads, so trying again is safe — a few times, while the customer's next messages wait.
  if (err instanceof WechatTransientError || err instanceof WechatUncertainError)
    return job.attempt >= Math.min(MEDIA_ATTEMPTS, job.attempts) ? 'unavailable' : undefined;
  return undefined;
}
