import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LoginThrottle } from './login-throttle.js';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * HTTP basic authentication for the board (DASHBOARD_USER / DASHBOARD_PASSWORD): both compared in
 * constant time (as digests, so their lengths tell nothing). Health and metrics stay open. A client
 * the throttle holds back is answered 429 before its credentials are looked at; a request without
 * credentials (a browser's first, before it asks) is no failed login.
 */
export function basicAuth(user: string, password: string, open: readonly string[], throttle: LoginThrottle) {
  const expected = digest(`${user}:${password}`);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (open.includes(req.url.split('?')[0]!)) return;
    const wait = throttle.waitSeconds(req.ip);
    if (wait > 0)
      return reply
        .code(429)
        .header('retry-after', String(wait))
        .send({ error: `too many failed logins: try again in ${wait} s` });
    const header = req.headers.authorization;
    const given = header?.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString('utf8') : '';
    if (!timingSafeEqual(digest(given), expected)) {
      if (header !== undefined) throttle.failed(req.ip);
      return reply.code(401).header('www-authenticate', 'Basic realm="wechat-im-relay dashboard", charset="UTF-8"').send({ error: 'authentication required' });
    }
  };
}
