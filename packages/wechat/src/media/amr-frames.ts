/**
 * Duration of an AMR recording (RFC 4867 section 5, the storage format WeChat's voice messages
 * come in), from its frames: every frame, speech or silence, is 20 ms. Each frame's one-byte
 * header names its type, and the type fixes the frame's length, so counting needs no decoder.
 */

const NB_MAGIC = Buffer.from('#!AMR\n');
const WB_MAGIC = Buffer.from('#!AMR-WB\n');

// Speech bytes after the header byte, by frame type (0–15); -1: a type the format reserves.
const NB_SIZES = [12, 13, 15, 17, 19, 20, 26, 31, 5, -1, -1, -1, -1, -1, -1, 0];
const WB_SIZES = [17, 23, 32, 36, 40, 46, 50, 58, 60, 5, -1, -1, -1, -1, 0, 0];

export const AMR_FRAME_MS = 20;

export interface AmrInfo {
  band: 'nb' | 'wb';
  frames: number;
  /** frames × 20 ms. */
  durationMs: number;
}

/** The recording's frames and length, or undefined when `bytes` is not a whole single-channel AMR file. */
export function amrInfo(bytes: Uint8Array): AmrInfo | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const band = startsWith(buf, WB_MAGIC) ? 'wb' : startsWith(buf, NB_MAGIC) ? 'nb' : undefined;
  if (band === undefined) return undefined;
  const sizes = band === 'wb' ? WB_SIZES : NB_SIZES;
  let at = band === 'wb' ? WB_MAGIC.length : NB_MAGIC.length;
  let frames = 0;
  while (at < buf.length) {
    const header = buf[at]!;
    // Bit 7 and the two low bits are padding that must be zero: anything else is not AMR.
    if ((header & 0x83) !== 0) return undefined;
    const size = sizes[(header >> 3) & 0x0f]!;
    if (size < 0 || at + 1 + size > buf.length) return undefined;
    at += 1 + size;
    frames++;
  }
  return { band, frames, durationMs: frames * AMR_FRAME_MS };
}

function startsWith(buf: Buffer, magic: Buffer): boolean {
  return buf.length >= magic.length && buf.subarray(0, magic.length).equals(magic);
}
