import { CUSTOM_TEXT_LIMIT_BYTES } from './custom-message.js';

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
const SPACES = new Set([' ', '\t', '\u3000']);
/** Ends of sentences a text without spaces (Chinese) can break after. */
const SENTENCE_ENDS = new Set(['。', '！', '？', '；', '!', '?']);

/**
 * Splits a text into parts of at most `limitBytes` UTF-8 bytes each, for WeChat's limit on a
 * customer-service text. A part ends at the last newline in its second half, else at the last
 * space there, else after the last end of a sentence there, else as late as fits; the newline or
 * space a part breaks at is dropped, nothing else changes. No cut falls inside a character
 * (surrogate pairs included) or a grapheme (an emoji with its modifiers), unless one grapheme alone
 * is over the limit, and then between its code points. An empty text has no parts.
 */
export function splitText(text: string, limitBytes: number = CUSTOM_TEXT_LIMIT_BYTES): string[] {
  if (!Number.isInteger(limitBytes) || limitBytes < 4) throw new RangeError('limitBytes must be an integer of at least 4 (one UTF-8 character)');
  const parts: string[] = [];
  let rest = text;
  while (rest !== '') {
    if (Buffer.byteLength(rest) <= limitBytes) {
      parts.push(rest);
      break;
    }
    const { end, next } = breakPoint(rest, fittingEnd(rest, limitBytes));
    if (end > 0) parts.push(rest.slice(0, end));
    rest = rest.slice(next);
  }
  return parts;
}

/** The length (UTF-16 units) of the longest start of `text` within `limitBytes` that ends between graphemes. */
function fittingEnd(text: string, limitBytes: number): number {
  let bytes = 0;
  for (const { segment, index } of graphemes.segment(text)) {
    const size = Buffer.byteLength(segment);
    if (bytes + size <= limitBytes) {
      bytes += size;
      continue;
    }
    if (index > 0) return index;
    // A single grapheme over the limit: cut it between code points.
    let end = 0;
    for (const char of segment) {
      const charSize = Buffer.byteLength(char);
      if (bytes + charSize > limitBytes) break;
      bytes += charSize;
      end += char.length;
    }
    return end;
  }
  return text.length;
}

/** Where the part within `fit` ends and the next one starts. */
function breakPoint(text: string, fit: number): { end: number; next: number } {
  const half = Math.max(1, Math.floor(fit / 2));
  const newline = text.lastIndexOf('\n', fit - 1);
  if (newline >= half) return { end: text[newline - 1] === '\r' ? newline - 1 : newline, next: newline + 1 };
  for (let i = fit - 1; i >= half; i--) {
    if (SPACES.has(text[i]!)) return { end: i, next: i + 1 };
  }
  for (let i = fit - 1; i >= half; i--) {
    if (SENTENCE_ENDS.has(text[i]!)) return { end: i + 1, next: i + 1 };
  }
  return { end: fit, next: fit };
}
