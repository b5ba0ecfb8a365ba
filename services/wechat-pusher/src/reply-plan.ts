import { IMAGE_PREFERRED_BYTES, MEDIA_LIMITS, VOICE_MAX_SECONDS } from '@wxim/wechat';

/**
 * An agent's reply (an IM MsgBody) as the WeChat customer-service sends that carry it, in order.
 * Pure: no I/O. The body comes from an IM callback, so every field is checked here; nothing in it
 * makes this throw.
 */

export type ImageFormat = 'jpg' | 'png' | 'gif' | 'unknown';

/**
 * One customer-service send. A media part carries `fallback`: the text to send instead when the
 * file cannot be fetched or WeChat refuses it. `bytes` and `seconds` are what IM reported (0 when
 * it did not say); the fetch still enforces the limits.
 */
export type ReplyPart =
  | { kind: 'text'; content: string }
  | { kind: 'image'; url: string; format: ImageFormat; bytes: number; fallback: string }
  | { kind: 'voice'; url: string; format: 'amr' | 'mp3'; seconds: number; bytes: number; fallback: string }
  | { kind: 'video'; url: string; format: 'mp4'; seconds: number; bytes: number; thumbUrl?: string; fallback: string };

/**
 * A bit of text and how it joins the text before it: `inline` bits (text, stickers) run on, as an
 * IM client shows them; a `block` bit (a file, a place, a note) starts a line of its own.
 */
interface TextBit {
  kind: 'bit';
  text: string;
  flow: 'inline' | 'block';
}

type Mapped = Exclude<ReplyPart, { kind: 'text' }> | TextBit;

type Fields = Record<string, unknown>;

function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(fields: Fields, name: string): string {
  const value = fields[name];
  return typeof value === 'string' ? value : '';
}

/** A count IM reported (bytes, seconds), or 0 when missing or not a sane number. */
function count(fields: Fields, name: string): number {
  const value = fields[name];
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0;
}

function num(fields: Fields, name: string): number | undefined {
  const value = fields[name];
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

/** Only http(s) links are followed or shown to the customer. */
function webUrl(value: string): string | undefined {
  try {
    const url = new URL(value.trim());
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

function extensionOf(url: string): string {
  const path = new URL(url).pathname;
  return /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase() ?? '';
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} B`;
}

function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}` : `${s} s`;
}

function block(text: string): TextBit {
  return { kind: 'bit', text, flow: 'block' };
}

function inline(text: string): TextBit {
  return { kind: 'bit', text, flow: 'inline' };
}

// TIMImageElem.ImageFormat: 1 JPG, 2 GIF, 3 PNG, 4 BMP, 255 other. WeChat takes JPG, PNG and GIF.
const IMAGE_FORMATS: Record<number, ImageFormat | 'bmp'> = { 1: 'jpg', 2: 'gif', 3: 'png', 4: 'bmp' };

function imageFormat(code: number | undefined, url: string): ImageFormat | 'bmp' {
  const known = code === undefined ? undefined : IMAGE_FORMATS[code];
  if (known !== undefined) return known;
  const ext = extensionOf(url);
  if (ext === 'jpg' || ext === 'jpeg') return 'jpg';
  if (ext === 'png' || ext === 'gif' || ext === 'bmp') return ext;
  return 'unknown'; // a URL without an extension (IM's own storage): the fetch's content type decides
}

interface ImageInfo {
  type: number;
  bytes: number;
  url: string;
}

/**
 * The original (Type 1) when WeChat should take it, else the large version (Type 2): within 2 MB
 * first, then within 10 MB. The thumbnail (Type 3) is too small to send unless it is all there is.
 */
function pickImage(infos: ImageInfo[]): ImageInfo | undefined {
  const full = infos.filter((i) => i.type !== 3);
  const candidates = (full.length > 0 ? full : infos).sort((a, b) => a.type - b.type);
  const within = (limit: number) => candidates.find((i) => i.bytes <= limit); // 0 (unknown) fits: the fetch checks
  return within(IMAGE_PREFERRED_BYTES) ?? within(MEDIA_LIMITS.image.maxBytes);
}

function mapImage(content: Fields): Mapped {
  const array = content['ImageInfoArray'];
  const infos: ImageInfo[] = [];
  for (const entry of Array.isArray(array) ? (array as unknown[]) : []) {
    if (!isFields(entry)) continue;
    const url = webUrl(str(entry, 'URL'));
    if (url !== undefined) infos.push({ type: num(entry, 'Type') ?? 1, bytes: count(entry, 'Size'), url });
  }
  const original = [...infos].sort((a, b) => a.type - b.type)[0];
  if (original === undefined) return block('[image]');
  const fallback = `🖼 Image: ${original.url}`;
  const chosen = pickImage(infos);
  if (chosen === undefined) return block(fallback);
  const format = imageFormat(num(content, 'ImageFormat'), chosen.url);
  if (format === 'bmp') return block(fallback);
  return { kind: 'image', url: chosen.url, format, bytes: chosen.bytes, fallback };
}

function mapSound(content: Fields): Mapped {
  const url = webUrl(str(content, 'Url'));
  const seconds = count(content, 'Second');
  const bytes = count(content, 'Size');
  const length = seconds > 0 ? ` (${formatSeconds(seconds)})` : '';
  // SDKs before 4.x sent no Url: there is nothing to pass on but the fact.
  if (url === undefined) return block(`[voice message${length}]`);
  const fallback = `🔊 Voice message${length}: ${url}`;
  const ext = extensionOf(url);
  // IM's apps record AAC (m4a), which WeChat does not take: only AMR and MP3 go as voice.
  const fits = (ext === 'amr' || ext === 'mp3') && seconds <= VOICE_MAX_SECONDS && bytes <= MEDIA_LIMITS.voice.maxBytes;
  if (!fits) return block(fallback);
  return { kind: 'voice', url, format: ext, seconds, bytes, fallback };
}

function mapVideo(content: Fields): Mapped {
  const url = webUrl(str(content, 'VideoUrl'));
  const seconds = count(content, 'VideoSecond');
  const bytes = count(content, 'VideoSize');
  const length = seconds > 0 ? ` (${formatSeconds(seconds)})` : '';
  if (url === undefined) return block(`[video${length}]`);
  const fallback = `🎬 Video${length}: ${url}`;
  const format = (str(content, 'VideoFormat') || extensionOf(url)).toLowerCase();
  if (format !== 'mp4' || bytes > MEDIA_LIMITS.video.maxBytes) return block(fallback);
  const thumbUrl = webUrl(str(content, 'ThumbUrl'));
  return { kind: 'video', url, format, seconds, bytes, ...(thumbUrl !== undefined ? { thumbUrl } : {}), fallback };
}

function mapFile(content: Fields): Mapped {
  const url = webUrl(str(content, 'Url'));
  const name = str(content, 'FileName').trim() || 'file';
  const bytes = count(content, 'FileSize');
  const label = `📎 ${name}${bytes > 0 ? ` (${formatBytes(bytes)})` : ''}`;
  return block(url !== undefined ? `${label}: ${url}` : label);
}

function mapLocation(content: Fields): Mapped {
  const desc = str(content, 'Desc').trim();
  const lat = num(content, 'Latitude');
  const lng = num(content, 'Longitude');
  const coordinates = lat !== undefined && lng !== undefined ? `${lat}, ${lng}` : '';
  const where = desc !== '' && coordinates !== '' ? `${desc} (${coordinates})` : desc || coordinates;
  return block(`📍 ${where || '[location]'}`);
}

function mapFace(content: Fields): Mapped {
  const data = str(content, 'Data').trim();
  // TUIKit's small emoji arrive as their code in brackets, e.g. "[TUIEmoji_Smile]": shown as they are.
  if (/^\[[^\]]{1,40}\]$/.test(data)) return inline(data);
  if (data !== '' && data.length <= 40) return inline(`[sticker ${data}]`);
  const index = num(content, 'Index');
  return inline(index !== undefined && index >= 0 ? `[sticker ${index}]` : '[sticker]');
}

/** The note for what has no words: an element of a kind this version does not know, or unreadable. */
const UNSHOWN = '[a message WeChat cannot show]';

/** What a custom element says in words: TUIKit's text-link card, else its Desc, else Data when it is plain text. */
function mapCustom(content: Fields): Mapped {
  const data = str(content, 'Data').trim();
  const desc = str(content, 'Desc').trim();
  let parsed: unknown;
  try {
    parsed = data.startsWith('{') ? JSON.parse(data) : undefined;
  } catch {
    parsed = undefined;
  }
  if (isFields(parsed)) {
    const text = str(parsed, 'text').trim();
    const link = webUrl(str(parsed, 'link'));
    const words = [text, link].filter((s) => s !== undefined && s !== '').join(' ');
    if (words !== '') return block(words);
  }
  if (desc !== '') return block(desc);
  if (data !== '' && parsed === undefined && !data.startsWith('{') && !data.startsWith('[')) return block(data);
  return block(UNSHOWN);
}

function mapElement(element: unknown): Mapped {
  if (!isFields(element)) return block(UNSHOWN);
  const type = str(element, 'MsgType');
  const content = isFields(element['MsgContent']) ? element['MsgContent'] : {};
  switch (type) {
    case 'TIMTextElem':
      return inline(str(content, 'Text'));
    case 'TIMImageElem':
      return mapImage(content);
    case 'TIMSoundElem':
      return mapSound(content);
    case 'TIMVideoFileElem':
      return mapVideo(content);
    case 'TIMFileElem':
      return mapFile(content);
    case 'TIMLocationElem':
      return mapLocation(content);
    case 'TIMFaceElem':
      return mapFace(content);
    case 'TIMCustomElem':
      return mapCustom(content);
    default:
      return block(UNSHOWN);
  }
}

/**
 * The WeChat sends for an IM reply, in the order of its elements. Text, stickers, files, places
 * and notes next to each other become one text (every send costs one of the customer's few
 * replies); images, voice and video go on their own, as media when WeChat can take them, else as
 * a link. A text that is only whitespace is dropped.
 */
export function planReply(msgBody: unknown[]): ReplyPart[] {
  const parts: ReplyPart[] = [];
  let text = '';
  let lastFlow: TextBit['flow'] = 'block';
  const flush = () => {
    if (text.trim() !== '') parts.push({ kind: 'text', content: text.trim() });
    text = '';
  };
  for (const element of Array.isArray(msgBody) ? msgBody : []) {
    const mapped = mapElement(element);
    if (mapped.kind !== 'bit') {
      flush();
      parts.push(mapped);
      continue;
    }
    if (mapped.text === '') continue;
    const runsOn = mapped.flow === 'inline' && lastFlow === 'inline';
    text = text === '' ? mapped.text : runsOn ? text + mapped.text : `${text}\n${mapped.text}`;
    lastFlow = mapped.flow;
  }
  flush();
  return parts;
}

const MEDIA_WORDS = { image: '[image]', voice: '[voice message]', video: '[video]' } as const;

/**
 * The start of a reply in a few plain words, for a notice to the agent that it did not reach the
 * customer: at most `max` characters, whitespace collapsed, "…" when cut.
 */
export function quoteOf(msgBody: unknown[], max = 40): string {
  const words = planReply(msgBody)
    .map((part) => (part.kind === 'text' ? part.content : MEDIA_WORDS[part.kind]))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = Array.from(words); // by code point, so an emoji is never cut in half
  if (chars.length <= max) return words;
  return `${chars
    .slice(0, Math.max(0, max - 1))
    .join('')
    .trimEnd()}…`;
}
