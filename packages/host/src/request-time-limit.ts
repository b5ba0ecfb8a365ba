import type { ServerOptions } from 'node:http';

/**
 * How long a client has to send a whole request, head and body, before the server answers 408 and
 * closes the connection. WeChat and IM post bodies of a few kilobytes from their data centres, and
 * an agent's browser posts less; without a limit (Fastify turns Node's off) a client that trickles
 * a body a byte at a time holds its connection, and a few thousand such clients hold them all.
 */
export const REQUEST_TIME_LIMIT_MS = 10_000;

/** How often Node looks for requests past their limit (30 s by default: a 10 s limit would hold for up to 40 s). */
const CHECK_EVERY_MS = 1_000;

/** The server options that put a limit on receiving a request: every server of the relay's services is built with them. */
export function requestTimeLimit(limitMs = REQUEST_TIME_LIMIT_MS): { requestTimeout: number; http: ServerOptions } {
  return {
    requestTimeout: limitMs,
    http: { requestTimeout: limitMs, headersTimeout: limitMs, connectionsCheckingInterval: Math.min(CHECK_EVERY_MS, limitMs) },
  };
}
