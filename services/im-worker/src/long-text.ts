import { type MsgElement, textElem } from '@wxim/im';

/**
 * IM takes a message body of at most 8 KB (its JSON; 93000 above, a refusal for good). A
 * customer's text may be longer (a pasted complaint: 3,000 Chinese characters are 9 KB), so it goes
 * as several messages, each text at most this many bytes as JSON, leaving room for the rest.
 */
export const IM_PART_BYTES = 6000;

/** The bytes a text takes in the message's JSON (quotes and escapes included). */
function jsonBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text));
}

/**
 * The body as the messages to send, in order: the body itself when it fits, else its texts cut
 * into parts of at most `maxBytes` (whole characters, at a line end or a space when one is near),
 * the other elements kept with the first. A body of anything but text is never cut.
 */
export function partsOf(body: MsgElement[], maxBytes = IM_PART_BYTES): MsgElement[][] {
  if (Buffer.byteLength(JSON.stringify(body)) <= maxBytes) return [body];
  const others = body.filter((e) => e.MsgType !== 'TIMTextElem');
  const texts = body.flatMap((e) => (e.MsgType === 'TIMTextElem' ? [String(e.MsgContent.Text)] : []));
  if (texts.length === 0) return [body];
  const chunks = texts.flatMap((text) => cut(text, maxBytes));
  return chunks.map((chunk, i) => (i === 0 ? [...others, textElem(chunk)] : [textElem(chunk)]));
}

/** A text in pieces of at most `maxBytes` as JSON, each ending at a line end or a space in its last fifth when there is one. */
function cut(text: string, maxBytes: number): string[] {
  const pieces: string[] = [];
  let rest = [...text];
  while (rest.length > 0) {
    let bytes = 2;
    let end = 0;
    while (end < rest.length) {
      const next = jsonBytes(rest[end]!) - 2;
      if (bytes + next > maxBytes) break;
      bytes += next;
      end++;
    }
    if (end < rest.length) {
      // Back to a line end or a space near the cut, so words and lines stay whole where they can.
      for (let i = end; i > Math.floor(end * 0.8); i--) {
        if (rest[i - 1] === '\n' || rest[i - 1] === ' ') {
          end = i;
          break;
        }
      }
    }
    pieces.push(rest.slice(0, end).join(''));
    rest = rest.slice(end);
  }
  return pieces;
}
