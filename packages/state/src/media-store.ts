import type { RedisClient } from '@wxim/queue';
import type { StateKeys } from './keys.js';

/** A customer's media the relay serves: bytes it holds (a converted voice, a thumbnail), or a link it streams from (a video at WeChat). */
export type MediaEntry = ({ contentType: string; bytes: Buffer } | { contentType: string; url: string }) & {
  /** What the IM element tells about it (seconds, width, height), kept so that a later attempt builds the same element. */
  info?: Record<string, number>;
};

/** What an entry's IM element needs without reading its bytes. */
export interface MediaMeta {
  contentType: string;
  /** Bytes held (0 for a link). */
  size: number;
  info: Record<string, number>;
}

/**
 * Customers' media under `media:<id>`, each kept until its link expires (never past WeChat's 3
 * days) and ten minutes more, for a retry to find what was sent (see MEDIA_DECISION_KEPT_MS), then gone: Redis's own expiry, so nothing has to sweep it. The same key records a
 * relay's decision to send the text note instead, so that every attempt of a job builds the same
 * IM message.
 */
export class MediaStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
  ) {}

  /** An entry already stored (by an earlier attempt of the same job), so that the element is built from the same bytes. */
  async meta(id: string): Promise<MediaMeta | undefined> {
    const [contentType, size, info] = await this.redis.hmget(this.keys.media(id), 'type', 'size', 'info');
    return contentType == null || size == null ? undefined : { contentType, size: Number(size), info: JSON.parse(info ?? '{}') as Record<string, number> };
  }

  /** Whether an earlier attempt decided to send the text note for this media (see `putNote`). */
  async noted(id: string): Promise<boolean> {
    return (await this.redis.hexists(this.keys.media(id), 'note')) === 1;
  }

  /**
   * Records that the agent is told of this media by the text note, until `expiresAtMs`: later
   * attempts send the same note even if the media could be fetched or converted by then.
   */
  async putNote(id: string, reason: string, expiresAtMs: number): Promise<void> {
    const key = this.keys.media(id);
    await this.redis.multi().hset(key, 'note', reason).pexpireat(key, expiresAtMs).exec();
  }

  /** Stores the entry until `expiresAtMs`; false when that moment has already passed (nothing stored). */
  async put(id: string, entry: MediaEntry, expiresAtMs: number): Promise<boolean> {
    const key = this.keys.media(id);
    const info = JSON.stringify(entry.info ?? {});
    const fields =
      'bytes' in entry
        ? { type: entry.contentType, size: entry.bytes.length, info, bytes: entry.bytes }
        : { type: entry.contentType, size: 0, info, url: entry.url };
    const [, [, expired]] = (await this.redis.multi().hset(key, fields).pexpireat(key, expiresAtMs).exec()) as [unknown, [unknown, number]];
    // PEXPIREAT with a past time deletes the key at once and still answers 1: check it is there.
    return expired === 1 && (await this.redis.exists(key)) === 1;
  }

  async get(id: string): Promise<MediaEntry | undefined> {
    const fields = await this.redis.hgetallBuffer(this.keys.media(id));
    const type = fields['type']?.toString();
    // An entry whose message went as the note was never linked: nothing to serve.
    if (type === undefined || fields['note'] !== undefined) return undefined;
    if (fields['url'] !== undefined) return { contentType: type, url: fields['url'].toString() };
    return fields['bytes'] === undefined ? undefined : { contentType: type, bytes: fields['bytes'] };
  }
}
