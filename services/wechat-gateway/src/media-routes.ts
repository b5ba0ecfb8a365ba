import { Transform } from 'node:stream';
import { type MediaStore, verifyMediaToken } from '@wxim/state';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { request } from 'undici';

export interface MediaRouteOptions {
  store: Pick<MediaStore, 'get'>;
  /** MEDIA_URL_SECRET. */
  secret: string;
  /** A video streamed from WeChat stops past this many bytes. */
  maxVideoBytes?: number;
  /** For WeChat's answer to start, and between two pieces of the video. */
  videoTimeoutMs?: number;
}

/** Customers' videos run to tens of MB at most (WeChat compresses what its clients send). */
export const MAX_VIDEO_BYTES = 50 * 1024 * 1024;

/**
 * `GET /media/<token>`: a customer's voice, video or thumbnail, for the agent's IM client, by the
 * signed link the im-worker put in the IM message. A token that is malformed, forged or expired
 * gets 403 and an empty body, whatever else it names — so nothing about other entries, keys or
 * paths can be learnt through it. A signed, unexpired token whose entry is gone gets 404: only the
 * holder of a real link can ask, and it tells them the media has left (or never arrived).
 */
export async function mediaRoutes(app: FastifyInstance, opts: MediaRouteOptions): Promise<void> {
  const maxVideoBytes = opts.maxVideoBytes ?? MAX_VIDEO_BYTES;
  const timeoutMs = opts.videoTimeoutMs ?? 15_000;

  app.get<{ Params: { '*': string } }>('/media/*', async (req, reply) => {
    const checked = verifyMediaToken(opts.secret, req.params['*'], Date.now());
    if (!checked.ok) return reply.code(403).header('cache-control', 'no-store').send();
    const entry = await opts.store.get(checked.id);
    if (entry === undefined) return reply.code(404).header('cache-control', 'no-store').send();
    // Cached by the agent's own client at most until the link expires.
    const maxAge = Math.max(0, Math.floor(checked.expiresAt - Date.now() / 1000));
    reply.header('cache-control', `private, max-age=${maxAge}`).header('x-content-type-options', 'nosniff');
    if ('bytes' in entry) return reply.type(entry.contentType).header('content-length', entry.bytes.length).send(entry.bytes);
    return streamVideo(reply, entry.url, entry.contentType, req.headers.range, maxVideoBytes, timeoutMs);
  });
}

/**
 * The video from WeChat's link, piece by piece (never held whole), cut off past `maxBytes`. A
 * Range request goes on to WeChat, so that players can seek.
 */
async function streamVideo(reply: FastifyReply, url: string, contentType: string, range: string | undefined, maxBytes: number, timeoutMs: number) {
  let upstream: Awaited<ReturnType<typeof request>>;
  try {
    upstream = await request(url, {
      method: 'GET',
      headers: range !== undefined && /^bytes=\d*-\d*$/.test(range) ? { range } : {},
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  } catch {
    return reply.code(502).header('cache-control', 'no-store').send();
  }
  const { statusCode, headers, body } = upstream;
  const length = Number(headers['content-length']);
  if ((statusCode !== 200 && statusCode !== 206) || (Number.isFinite(length) && length > maxBytes)) {
    body.destroy();
    // WeChat dropped it (its 3 days are up) or it is past what the relay streams.
    return reply
      .code(statusCode === 404 ? 404 : 502)
      .header('cache-control', 'no-store')
      .send();
  }
  let seen = 0;
  const capped = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > maxBytes) return done(new Error('video larger than the relay streams'));
      done(null, chunk);
    },
  });
  body.on('error', (err) => capped.destroy(err));
  capped.on('error', () => body.destroy());
  reply.code(statusCode).type(contentType).header('accept-ranges', 'bytes');
  if (Number.isFinite(length)) reply.header('content-length', length);
  const contentRange = headers['content-range'];
  if (statusCode === 206 && typeof contentRange === 'string') reply.header('content-range', contentRange);
  return reply.send(body.pipe(capped));
}
