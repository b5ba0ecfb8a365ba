import type { CustomMessage, MenuOption } from './api/custom-message.js';

/** The scores a customer can give, each one option of the rating question. */
export const RATING_SCORES = [1, 2, 3, 4, 5] as const;
export type RatingScore = (typeof RATING_SCORES)[number];

/** How many closes option ids tell apart before their numbers come round again (8 digits). */
export const RATING_CLOSES = 100_000_000;

/** What a tapped rating option answers: the close the question was asked for, and the score. */
export interface RatingOption {
  close: string;
  score: RatingScore;
}

/** "1", the close's number in 8 digits, the score. */
const OPTION_ID = /^1(\d{8})([1-5])$/;

/** A close's number as option ids carry it: 8 digits, from any sequence number. */
export function closeNumber(sequence: number): string {
  if (!Number.isSafeInteger(sequence) || sequence < 0) throw new RangeError('a close number comes from a non-negative integer');
  return String(sequence % RATING_CLOSES).padStart(8, '0');
}

/**
 * The id of one option of a rating question: "1", the close's number in 8 digits, then the score;
 * ten digits, below 2^31. WeChat documents no format for these ids, and developers report ids with
 * letters not coming back in `bizmsgmenuid`: digits that fit a 32-bit integer are what its own
 * examples use. The fixed shape keeps them apart from the short ids of a business's own menus.
 */
export function ratingOptionId(close: string, score: RatingScore): string {
  if (!/^\d{8}$/.test(close)) throw new RangeError('a close number is 8 digits');
  return `1${close}${score}`;
}

/** What a tapped option's id (`bizmsgmenuid`) answers, when it is one of the relay's rating options. */
export function readRatingOption(menuId: string): RatingOption | undefined {
  const m = OPTION_ID.exec(menuId);
  if (m === null) return undefined;
  return { close: m[1]!, score: Number(m[2]) as RatingScore };
}

/** The rating question for a close, as a customer-service menu message: `text`, then the scores 1 to 5 to tap. */
export function ratingQuestion(touser: string, text: string, close: string): CustomMessage {
  const list: MenuOption[] = RATING_SCORES.map((score) => ({ id: ratingOptionId(close, score), content: String(score) }));
  return { touser, msgtype: 'msgmenu', msgmenu: { head_content: text, list, tail_content: '' } };
}
