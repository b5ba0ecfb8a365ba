import { type MsgElement, soundElem, videoFileElem } from '@wxim/im';
import { type MediaStore, mediaEntryId, signMediaToken } from '@wxim/state';
import { MEDIA_LIFETIME_MS, type WechatApi, type WechatMessage, WechatPermanentError, amrInfo, jpegSize } from '@wxim/wechat';
import { MP3_BITRATE, TranscodeError, type VoiceTranscoder } from './voice-transcode.js';

/** What is read from WeChat at most: a voice (WeChat takes 2 MB), a thumbnail (64 KB), a video's JSON link. */
export const MEDIA_READ_LIMITS = { voice: 2 * 1024 * 1024, thumb: 256 * 1024, videoLink: 64 * 1024 } as const;

export interface MediaLog {
  warn(fields: object, message: string): void;
}

export interface CustomerMediaOptions {
  wechat: Pick<WechatApi, 'getMedia'>;
  store: MediaStore;
  transcoder: VoiceTranscoder;
  /** MEDIA_PUBLIC_URL: where agents' IM clients reach the gateway. */
  publicUrl: string;
  /** MEDIA_URL_SECRET. */
  secret: string;
  /** Video links WeChat gives must be https, unless its API itself is reached over http (the simulator). */
  allowHttpVideo: boolean;
  log: MediaLog;
}

/** The turn of one WeChat call (the fleet's WeChat pace, the job's lock). */
export type WechatTurn = (api: string) => Promise<unknown>;

/**
 * A customer's voice or video as an IM element the agent can open: the media fetched from WeChat
 * once, kept in Redis (a voice converted to MP3, a thumbnail) or linked (a video, streamed from
 * WeChat on demand), and offered through signed links to the gateway's /media/. Everything in the
 * element comes from the push and the content — the links expire 3 days after the push's
 * CreateTime, when WeChat drops the media too — so a job run twice sends an identical element and
 * IM drops the repeat. Undefined means "send the text note instead": media too old, too large,
 * refused by WeChat for good, or not convertible (WeChat's transient failures throw, and the job
 * is retried).
 */
export class CustomerMedia {
  constructor(private readonly options: CustomerMediaOptions) {}

  async element(message: WechatMessage, turn: WechatTurn): Promise<MsgElement | undefined> {
    if (message.kind !== 'voice' && message.kind !== 'video' && message.kind !== 'shortvideo') return undefined;
    const expiresAt = message.createTime + MEDIA_LIFETIME_MS / 1000;
    // WeChat no longer holds it: nothing to fetch, and no link could live.
    if (expiresAt * 1000 <= Date.now()) return undefined;
    try {
      return message.kind === 'voice'
        ? await this.voice(message.mediaId, expiresAt, turn)
        : await this.video(message.mediaId, message.thumbMediaId, expiresAt, turn);
    } catch (err) {
      if (!(err instanceof WechatPermanentError) && !(err instanceof TranscodeError) && !(err instanceof MediaRefused)) throw err;
      this.options.log.warn({ kind: message.kind, reason: err.message }, "a customer's media could not be relayed; the agent gets a text note");
      return undefined;
    }
  }

  private link(id: string, expiresAt: number): string {
    return `${this.options.publicUrl}/media/${signMediaToken(this.options.secret, id, expiresAt)}`;
  }

  private async voice(mediaId: string, expiresAt: number, turn: WechatTurn): Promise<MsgElement | undefined> {
    const { store } = this.options;
    const id = mediaEntryId('voice', mediaId);
    // An earlier attempt of this job stored it: the same bytes, the same element.
    let meta = await store.meta(id);
    if (meta === undefined) {
      if (!(await this.options.transcoder.available())) return undefined;
      const recording = await this.file(mediaId, MEDIA_READ_LIMITS.voice, turn);
      const mp3 = await this.options.transcoder.toMp3(recording);
      // 20 ms AMR frames give the exact length; other formats (Speex) the MP3's constant bitrate.
      const amr = amrInfo(recording);
      const seconds = amr !== undefined ? amr.durationMs / 1000 : (mp3.length * 8) / MP3_BITRATE;
      const info = { seconds: Math.max(1, Math.round(seconds)) };
      if (!(await store.put(id, { contentType: 'audio/mpeg', bytes: mp3, info }, expiresAt * 1000))) return undefined;
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
      if (got?.kind !== 'video') throw new MediaRefused('media/get gave no video link');
      const protocol = new URL(got.videoUrl).protocol;
      if (protocol !== 'https:' && !(protocol === 'http:' && this.options.allowHttpVideo)) throw new MediaRefused('the video link is not https');
      if (!(await store.put(videoId, { contentType: 'video/mp4', url: got.videoUrl }, expiresAt * 1000))) return undefined;
    }
    let thumb = await store.meta(thumbId);
    if (thumb === undefined) {
      const bytes = await this.file(thumbMediaId, MEDIA_READ_LIMITS.thumb, turn);
      const size = jpegSize(bytes);
      if (size === undefined) throw new MediaRefused('the thumbnail is not a JPEG');
      const info = { width: size.width, height: size.height };
      if (!(await store.put(thumbId, { contentType: 'image/jpeg', bytes, info }, expiresAt * 1000))) return undefined;
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
