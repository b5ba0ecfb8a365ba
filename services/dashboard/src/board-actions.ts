import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The changes a signed-in operator may make from the board, as bull-board registers their routes
 * (method and route pattern). None of them writes a job's data: a retry sends what was stored, to
 * whom it was stored for. Every one is a PUT, which a page elsewhere cannot send without a CORS
 * preflight the board never grants.
 */
export const BOARD_ACTIONS: readonly string[] = [
  'PUT /api/queues/:queueName/:jobId/retry', // retried as by hand (retry-as-by-hand.ts)
  'PUT /api/queues/:queueName/retry/:queueStatus',
  'PUT /api/queues/:queueName/:jobId/clean', // the board's "remove"
  'PUT /api/queues/:queueName/clean/:queueStatus',
  'PUT /api/queues/:queueName/:jobId/promote',
  'PUT /api/queues/:queueName/promote',
  'PUT /api/queues/:queueName/pause',
  'PUT /api/queues/:queueName/resume',
  'PUT /api/queues/pause',
  'PUT /api/queues/resume',
];

const READING = new Set(['GET', 'HEAD']);

/**
 * Refuses (405), before bull-board sees it, every request that would change a queue, except
 * BOARD_ACTIONS when the board may act (`writable`: a password is set and DASHBOARD_READ_ONLY is
 * not). Whatever is not listed is refused, so a route a new bull-board adds stays shut until it is
 * read and listed. Adding a job, editing a job's data, emptying or obliterating a queue are never
 * listed: a reply whose openid and text were edited is delivered as it reads.
 */
export function boardActions(writable: boolean) {
  const allowed = new Set(BOARD_ACTIONS);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (READING.has(req.method)) return;
    if (!writable) return reply.code(405).send({ error: 'the board is read-only: it changes nothing without DASHBOARD_PASSWORD, or with DASHBOARD_READ_ONLY' });
    if (!allowed.has(`${req.method} ${req.routeOptions.url ?? ''}`))
      return reply.code(405).send({ error: 'not from the board: it only retries, removes, promotes, pauses, resumes and cleans' });
    // Delivered already: a retry would deliver again (one completed job is refused by the adapter).
    if ((req.params as { queueStatus?: string }).queueStatus === 'completed' && req.routeOptions.url?.includes('/retry/'))
      return reply.code(405).send({ error: 'completed jobs are not retried: their messages were delivered' });
  };
}
