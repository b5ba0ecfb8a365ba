import { WECHAT_FACES } from './emoji-codes.js';

/** Every form a face arrives in (its code, each of its names in brackets) → its emoji. */
const FORMS: ReadonlyMap<string, string> = new Map(
  WECHAT_FACES.flatMap((f) => [...(f.code === undefined ? [] : [f.code]), ...[...f.en, ...f.zh].map((name) => `[${name}]`)].map((form) => [form, f.emoji])),
);

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/**
 * One pattern, compiled once: a link first, so that a code inside it (`/:v` in a path) stays as it
 * is; then the faces' forms, longest first, so that `/::'(` is not read as `/::'` and `/::-|` not
 * as `/::-`. Brackets are part of no link: `https://a.cn[Smile]` keeps its face.
 */
const PATTERN = new RegExp(
  `(https?://[^\\s\\[\\]<>"]+)|${[...FORMS.keys()]
    .sort((a, b) => b.length - a.length)
    .map(escape)
    .join('|')}`,
  'g',
);

/**
 * A customer's text with WeChat's face codes and bracketed face names turned into Unicode emoji,
 * for an agent whose IM client shows Unicode. Case matters (`/::D` and `/::d` are two faces); a
 * bracket that names no face (`[something]`) and anything inside a link stay as they are.
 */
export function emojiToUnicode(text: string): string {
  // Most texts hold no face: no regex run for them.
  if (!text.includes('/:') && !text.includes('[')) return text;
  return text.replace(PATTERN, (match: string, link: string | undefined) => (link !== undefined ? match : (FORMS.get(match) ?? match)));
}
