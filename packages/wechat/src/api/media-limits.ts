export type MediaType = 'image' | 'voice' | 'video' | 'thumb';

export interface MediaLimit {
  maxBytes: number;
  /** File extensions WeChat takes for the type, lower case. */
  formats: readonly string[];
  /** The errcode WeChat answers for a file over `maxBytes`. */
  tooLargeCode: number;
}

const MB = 1024 * 1024;

/**
 * Temporary media (`media/upload`), as the uploadTempMedia page lists them. The same page also
 * says "image 2 MB" in its notes, and older copies say 2 MB: an image over 2 MB may be refused
 * (docs/wechat.md). Voice is also limited to 60 s, which only WeChat can check.
 */
export const MEDIA_LIMITS: Readonly<Record<MediaType, MediaLimit>> = {
  image: { maxBytes: 10 * MB, formats: ['png', 'jpeg', 'jpg', 'gif'], tooLargeCode: 40009 },
  voice: { maxBytes: 2 * MB, formats: ['amr', 'mp3'], tooLargeCode: 40010 },
  video: { maxBytes: 10 * MB, formats: ['mp4'], tooLargeCode: 40011 },
  thumb: { maxBytes: 64 * 1024, formats: ['jpg', 'jpeg'], tooLargeCode: 40012 },
};

/** Temporary media lasts 3 days from its upload. */
export const MEDIA_LIFETIME_MS = 3 * 24 * 3_600_000;

/** The image size WeChat's page states in its notes (2 MB): an image within it is preferred, a larger one up to its list's 10 MB still tried. */
export const IMAGE_PREFERRED_BYTES = 2 * MB;

/** A voice message's longest recording, which only WeChat can check. */
export const VOICE_MAX_SECONDS = 60;
