import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * HTTP basic authentication for the board (DASHBOARD_USER / DASHBOARD_PASSWORD): both compared in
 * constant time (as digests, so their lengths tell nothing). Health and metrics stay open.
 */
export function basicAuth(user: string, password: string, open: readonly string[]) {
  const expected = digest(`${user}:${password}`);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (open.includes(req.url.split('?')[0]!)) return;
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString('utf8') : '';
    if (!timingSafeEqual(digest(given), expected)) {
      return reply.code(401).header('www-authenticate', 'Basic realm="wechat-im-relay dashboard", charset="UTF-8"').send({ error: 'authentication required' });
    }
  };
}
