import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Every answer of the dashboard forbids other sites to frame it: a page the operator visits could
 * otherwise show the board (logged in, or read-only on 127.0.0.1) under its own and trick a click
 * on retry, pause or clean (clickjacking). Old browsers read X-Frame-Options, new ones the CSP.
 */
export async function noFraming(_req: FastifyRequest, reply: FastifyReply): Promise<void> {
  reply.header('x-frame-options', 'DENY');
  reply.header('content-security-policy', "frame-ancestors 'none'");
}
