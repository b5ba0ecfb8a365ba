import { Transform, pipeline } from 'node:stream';
import { type MediaStore, verifyMediaToken } from '@wxim/state';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { request } from 'undici';
import { byteRange } from './byte-range.js';

export interface MediaRouteOptions {
  store: Pick<MediaStore, 'get'>;
  /** MEDIA_URL_SECRET. */
  secret: string;
  /** A video streamed from WeChat stops past this many bytes. */
  maxVideoBytes?: number;
  /** For WeChat's answer to start, and between two pieces of the video. */
  videoTimeoutMs?: number;
  /** A video stream is cut off after this long, however it goes. */
  videoDeadlineMs?: number;
  /** A video stream no byte moved on for this long (a paused player, WeChat stalled) is cut off. */
  videoStallMs?: number;
  /** Videos streamed at once by this gateway; one more gets 503. */
  maxVideoStreams?: number;
  /** Told of each video stream refused or cut off, and why (a counter: their players show only an error). */
  videoCut?: (why: VideoCut) => void;
}

/** Why a video did not stream whole: no place free (503), its deadline, no byte for the stall time, past the size cap. */
export type VideoCut = 'busy' | 'deadline' | 'stall' | 'too_large';
export const VIDEO_CUTS: readonly VideoCut[] = ['busy', 'deadline', 'stall', 'too_large'];

/** Customers' videos run to tens of MB at most (WeChat compresses what its clients send). */
export const MAX_VIDEO_BYTES = 50 * 1024 * 1024;
/** Enough for a few agents' players at once, each holding one connection to WeChat. */
export const MAX_VIDEO_STREAMS = 32;
/** A whole video, even over a slow agent's line, streams well within this. */
export const VIDEO_DEADLINE_MS = 10 * 60_000;
/**
 * A player that paused stops reading: its stream would hold one of the places until the deadline.
 * Cut off after a minute without a byte moving; the player asks again, by range, when it plays on.
 */
export const VIDEO_STALL_MS = 60_000;

/**
 * `GET /media/<token>`: a customer's voice, video or thumbnail, for the agent's IM client, by the
 * signed link the im-worker put in the IM message. A token that is malformed, forged or expired
 * gets 403 and an empty body, whatever else it names — so nothing about other entries, keys or
 * paths can be learnt through it. A signed, unexpired token whose entry is gone gets 404: only the
 * holder of a real link can ask, and it tells them the media has left (or never arrived).
 * `HEAD` answers from what Redis holds, never asking WeChat.
 */
export async function mediaRoutes(app: FastifyInstance, opts: MediaRouteOptions): Promise<void> {
  const video: VideoLimits = {
    maxBytes: opts.maxVideoBytes ?? MAX_VIDEO_BYTES,
    timeoutMs: opts.videoTimeoutMs ?? 15_000,
    deadlineMs: opts.videoDeadlineMs ?? VIDEO_DEADLINE_MS,
    stallMs: opts.videoStallMs ?? VIDEO_STALL_MS,
    maxStreams: opts.maxVideoStreams ?? MAX_VIDEO_STREAMS,
    open: 0,
    cut: opts.videoCut ?? (() => {}),
  };

  app.get<{ Params: { '*': string } }>('/media/*', async (req, reply) => {
    const checked = verifyMediaToken(opts.secret, req.params['*'], Date.now());
    if (!checked.ok) return reply.code(403).header('cache-control', 'no-store').send();
    const entry = await opts.store.get(checked.id);
    if (entry === undefined) return reply.code(404).header('cache-control', 'no-store').send();
    // Cached by the agent's own client at most until the link expires.
    const maxAge = Math.max(0, Math.floor(checked.expiresAt - Date.now() / 1000));
    reply.header('cache-control', `private, max-age=${maxAge}`).header('x-content-type-options', 'nosniff');
    if ('bytes' in entry) return sendBytes(reply, entry.bytes, entry.contentType, req.headers.range);
    // Fastify answers HEAD with this handler: a player's probe must not open a download at WeChat.
    if (req.method === 'HEAD') return reply.type(entry.contentType).header('accept-ranges', 'bytes').send();
    return streamVideo(reply, entry.url, entry.contentType, req.headers.range, video);
  });
}

/**
 * A stored voice or thumbnail, whole or the range asked for: WebKit's players (Safari, iPad) ask
 * for `bytes=0-1` first, and play nothing unless they are answered 206.
 */
function sendBytes(reply: FastifyReply, bytes: Buffer, contentType: string, rangeHeader: string | undefined) {
  reply.type(contentType).header('accept-ranges', 'bytes');
  const range = byteRange(rangeHeader, bytes.length);
  if (range === undefined) return reply.header('content-length', bytes.length).send(bytes);
  if (range === 'unsatisfiable') return reply.code(416).header('content-range', `bytes */${bytes.length}`).send();
  const part = bytes.subarray(range.start, range.end + 1);
  return reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${bytes.length}`).header('content-length', part.length).send(part);
}

interface VideoLimits {
  maxBytes: number;
  timeoutMs: number;
  deadlineMs: number;
  stallMs: number;
  maxStreams: number;
  /** Streams open now. */
  open: number;
  cut: (why: VideoCut) => void;
}

/**
 * The video from WeChat's link, piece by piece (never held whole), cut off past `maxBytes` or the
 * deadline, or once no byte has moved for the stall time. A Range request goes on to WeChat, so that players can seek. The connection to WeChat
 * lives no longer than the agent's: it is closed as soon as the response closes, however it ends
 * (done, the player gone, cut off).
 */
async function streamVideo(reply: FastifyReply, url: string, contentType: string, range: string | undefined, limits: VideoLimits) {
  if (limits.open >= limits.maxStreams) return (limits.cut('busy'), reply.code(503).header('retry-after', '5').header('cache-control', 'no-store').send());
  limits.open++;
  const abort = new AbortController();
  const deadline = setTimeout(() => (limits.cut('deadline'), abort.abort()), limits.deadlineMs);
  // Cut off once no byte has moved for the stall time: looked at a few times within it.
  let moved = Date.now();
  const stall = setInterval(
    () => {
      if (Date.now() - moved < limits.stallMs) return;
      limits.cut('stall');
      clearInterval(stall);
      abort.abort();
      reply.raw.destroy();
    },
    Math.max(10, Math.floor(limits.stallMs / 4)),
  );
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    limits.open--;
    clearTimeout(deadline);
    clearInterval(stall);
    abort.abort();
  };
  // Whatever ends the response (sent, the client gone, an error) ends the upstream request. A
  // player gone while its entry was read has closed already, and no 'close' comes any more.
  reply.raw.once('close', release);
  if (reply.raw.destroyed) {
    release();
    return reply;
  }
  let upstream: Awaited<ReturnType<typeof request>>;
  try {
    upstream = await request(url, {
      method: 'GET',
      headers: range !== undefined && /^bytes=\d*-\d*$/.test(range) ? { range } : {},
      headersTimeout: limits.timeoutMs,
      bodyTimeout: limits.timeoutMs,
      signal: abort.signal,
    });
  } catch {
    release();
    return reply.code(502).header('cache-control', 'no-store').send();
  }
  const { statusCode, headers, body } = upstream;
  const length = Number(headers['content-length']);
  if ((statusCode !== 200 && statusCode !== 206) || (Number.isFinite(length) && length > limits.maxBytes)) {
    if (Number.isFinite(length) && length > limits.maxBytes) limits.cut('too_large');
    body.destroy();
    release();
    // WeChat dropped it (its 3 days are up) or it is past what the relay streams.
    return reply
      .code(statusCode === 404 ? 404 : 502)
      .header('cache-control', 'no-store')
      .send();
  }
  let seen = 0;
  const capped = new Transform({
    transform(chunk: Buffer, _enc, done) {
      moved = Date.now();
      seen += chunk.length;
      if (seen > limits.maxBytes) return (limits.cut('too_large'), done(new Error('video larger than the relay streams')));
      done(null, chunk);
    },
  });
  // Either side failing or closing early destroys the other (the abort above covers the upstream too).
  pipeline(body, capped, () => {});
  reply.code(statusCode).type(contentType).header('accept-ranges', 'bytes');
  if (Number.isFinite(length)) reply.header('content-length', length);
  const contentRange = headers['content-range'];
  if (statusCode === 206 && typeof contentRange === 'string') reply.header('content-range', contentRange);
  return reply.send(capped);
}
