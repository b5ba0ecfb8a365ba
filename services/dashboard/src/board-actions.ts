import { REMOVABLE_STATES, cleanByHand, removeByHand, retryFailedJobs } from '@wxim/queue';
import type { Job, Queue } from 'bullmq';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The changes a signed-in operator may make from the board, as bull-board registers their routes
 * (method and route pattern). None of them writes a job's data: a retry sends what was stored, to
 * whom it was stored for. Every one is a PUT, which a page elsewhere cannot send without a CORS
 * preflight the board never grants.
 */
export const BOARD_ACTIONS: readonly string[] = [
  'PUT /api/queues/:queueName/:jobId/retry', // the relay's own (retryFailedJobs), a failed job only
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

/** How long a finished job is left before "clean" removes it, as bull-board's own clean leaves it. */
const CLEAN_GRACE_MS = 5000;

const NOT_REMOVED = 'only finished jobs (completed, failed) are removed: a job still to run holds its customer’s place, and its message would be lost';

/**
 * Refuses (405), before bull-board sees it, every request that would change a queue, except
 * BOARD_ACTIONS when the board may act (`writable`: a password is set and DASHBOARD_READ_ONLY is
 * not). Whatever is not listed is refused, so a route a new bull-board adds stays shut until it is
 * read and listed. Adding a job, editing a job's data, emptying or obliterating a queue are never
 * listed: a reply whose openid and text were edited is delivered as it reads.
 *
 * Four actions are the relay's own, answered here (bull-board never runs them), over `queues`:
 * - remove and clean take finished jobs only, and keep each one's deduplication key (removeByHand):
 *   bull-board's would remove waiting and delayed jobs too (messages lost), and delete the keys
 *   that keep a platform's retry or a sweep from storing the message a second time;
 * - retry all failed retries the oldest first, one at a time, each put in its customer's line
 *   before the next (retryFailedJobs): bull-board's retries a page at once, newest first, and a
 *   customer's messages would go in reverse order;
 * - retry one failed job does the same for that job (in its customer's line, its attempts reset);
 *   a job not failed, or that failed longer ago than its progress is kept, or that another hand is
 *   removing or retrying right now is refused 409 (a removal that read the job failed would remove
 *   it once it was back to run: see withJobInHand).
 *
 * Every change asked for is logged once it is answered, by whom (`operator`, the board's user) and
 * from where, with its answer: `board change` (info) when it was made, `board change refused`
 * (warn) when the guard or bull-board refused it. A job's id names its customer, never a secret.
 */
export function boardActions(
  writable: boolean,
  queues: readonly Queue[] = [],
  operator?: string,
  /** Puts a job retried by hand in its customer's line (see lineOnRetry), so retries keep each customer's order. */
  placing?: (queue: Queue) => (job: Job) => Promise<void>,
) {
  const allowed = new Set(BOARD_ACTIONS);
  const queueNamed = (name: string | undefined) => queues.find((q) => q.name === name);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (READING.has(req.method)) return;
    const route = `${req.method} ${req.routeOptions.url ?? req.url}`;
    const params = req.params as { queueName?: string; queueStatus?: string; jobId?: string };
    const done: Record<string, unknown> = {};
    const log = changeLog(req, reply, { action: route, ...params, operator, from: req.ip }, done);
    if (!writable) return reply.code(405).send({ error: 'the board is read-only: it changes nothing without DASHBOARD_PASSWORD, or with DASHBOARD_READ_ONLY' });
    if (!allowed.has(route)) return reply.code(405).send({ error: 'not from the board: it only retries, removes, promotes, pauses, resumes and cleans' });
    // Delivered already: a retry would deliver again (one completed job is refused by the adapter).
    if (params.queueStatus === 'completed' && route.includes('/retry/'))
      return reply.code(405).send({ error: 'completed jobs are not retried: their messages were delivered' });
    const queue = queueNamed(params.queueName);
    if (queue === undefined) return; // bull-board answers an unknown queue itself
    if (route === 'PUT /api/queues/:queueName/clean/:queueStatus') {
      if (!REMOVABLE_STATES.has(params.queueStatus ?? '')) return reply.code(405).send({ error: NOT_REMOVED });
      done['removed'] = await cleanByHand(queue, params.queueStatus as 'completed' | 'failed', CLEAN_GRACE_MS);
      log.ended(200);
      return reply.code(200).send({});
    }
    if (route === 'PUT /api/queues/:queueName/:jobId/clean') {
      const job = await queue.getJob(params.jobId ?? '');
      if (job === undefined) return; // bull-board answers 404
      if (!(await removeByHand(queue, job))) return reply.code(405).send({ error: NOT_REMOVED });
      return reply.code(204).send();
    }
    if (route === 'PUT /api/queues/:queueName/:jobId/retry') {
      const job = await queue.getJob(params.jobId ?? '');
      if (job === undefined) return; // bull-board answers 404
      // Refused here, not passed on: a job that failed between this look and bull-board's would be
      // retried by bull-board, out of its customer's line.
      const state = await job.getState();
      if (state === 'completed') return reply.code(409).send({ error: 'not retried: it is completed, its message was delivered' });
      if (state !== 'failed') return reply.code(409).send({ error: `not retried: it is ${state}, not failed` });
      const { retried, skipped } = await retryFailedJobs(queue, [job.id!], placing?.(queue));
      done['retried'] = retried;
      if (skipped.length > 0) {
        done['skipped'] = skipped;
        return reply.code(409).send({ error: `not retried: ${skipped[0]!.why}` });
      }
      return reply.code(204).send();
    }
    if (route === 'PUT /api/queues/:queueName/retry/:queueStatus' && params.queueStatus === 'failed') {
      const { retried, skipped } = await retryFailedJobs(queue, undefined, placing?.(queue));
      done['retried'] = retried;
      if (skipped.length > 0) done['skipped'] = skipped;
      log.ended(200);
      return reply.code(200).send({ retried, skipped: skipped.length });
    }
  };
}

/**
 * One line for a change asked of the board, once its answer is sent: made (2xx) or refused, and why.
 * A client that leaves first (a long retry-all behind a proxy's timeout) leaves a line saying so,
 * and the relay's own long actions (`ended`) still log what they did once done.
 */
function changeLog(
  req: FastifyRequest,
  reply: FastifyReply,
  fields: Record<string, unknown>,
  done: Record<string, unknown>,
): { ended(statusCode: number): void } {
  let logged = false;
  const write = (statusCode: number) => {
    logged = true;
    const answer = { ...fields, ...done, statusCode };
    if (statusCode < 300) req.log.info(answer, 'board change');
    else req.log.warn(answer, 'board change refused');
  };
  reply.raw.once('close', () => {
    if (logged) return;
    if (reply.raw.writableFinished) write(reply.statusCode);
    else req.log.warn({ ...fields, ...done }, 'board change: the client left before its answer; a change under way goes on');
  });
  return {
    // Once the client has left, its answer will never be sent: the line is written now.
    ended: (statusCode) => {
      if (reply.raw.destroyed) write(statusCode);
    },
  };
}
