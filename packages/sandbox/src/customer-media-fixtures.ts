import { readFileSync } from 'node:fs';

/**
 * What the simulated customers send as voice and video: small real files in the package's
 * fixtures/ (read from there by the built code too, so npm start and the image find them) — a 2 s
 * AMR-NB recording of a 440 Hz tone, a 1 s MP4 and its JPEG thumbnail.
 */
export const CUSTOMER_MEDIA_FILES = {
  voice: { file: 'tone.amr', contentType: 'audio/amr' },
  video: { file: 'clip.mp4', contentType: 'video/mp4' },
  thumb: { file: 'thumb.jpg', contentType: 'image/jpeg' },
} as const;

export type CustomerMediaKind = keyof typeof CUSTOMER_MEDIA_FILES;

/** The media ids the simulated platform puts in its pushes: the kind, then something unique. */
export const CUSTOMER_MEDIA_ID = /^sim(voice|video|thumb)-[A-Za-z0-9_-]{1,64}$/;

const cache = new Map<CustomerMediaKind, Buffer>();

export function customerMediaBytes(kind: CustomerMediaKind): Buffer {
  let bytes = cache.get(kind);
  if (bytes === undefined) {
    bytes = readFileSync(new URL(`../fixtures/${CUSTOMER_MEDIA_FILES[kind].file}`, import.meta.url));
    cache.set(kind, bytes);
  }
  return bytes;
}

/** The kind of a media id the simulated platform made, or undefined. */
export function customerMediaKind(mediaId: string): CustomerMediaKind | undefined {
  return CUSTOMER_MEDIA_ID.exec(mediaId)?.[1] as CustomerMediaKind | undefined;
}
