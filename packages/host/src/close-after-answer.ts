import type { FastifyInstance } from 'fastify';

/**
 * While the server closes, every answer closes its connection after it. Node closes the idle
 * connections when the close begins, but one whose request was in flight then stays open after its
 * answer, for the keep-alive's 72 s: the close would wait that long, past the grace, and the
 * service's own close (im-callback's clean stop) would never run.
 */
export function closeAfterAnswerWhen(app: FastifyInstance, stopping: () => boolean): void {
  app.addHook('onSend', async (_req, reply) => {
    if (stopping()) reply.header('connection', 'close');
  });
}
