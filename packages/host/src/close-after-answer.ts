import type { FastifyInstance } from 'fastify';

/** How often, while a server closes, the connections whose answers have ended are closed. */
const SWEEP_MS = 100;

/**
 * While the server closes, every answer closes its connection after it (`connection: close`, so a
 * proxy does not send another request on it). Node closes the idle connections when the close
 * begins, but one whose request was in flight then stays open after its answer for the
 * keep-alive's 72 s: the close would wait that long, past the grace, and the service's own close
 * (im-callback's clean stop) would never run.
 */
export function closeAfterAnswerWhen(app: FastifyInstance, stopping: () => boolean): void {
  app.addHook('onSend', async (_req, reply) => {
    if (stopping()) reply.header('connection', 'close');
  });
}

/**
 * Closes the server, letting the answers in flight end, then their connections: those whose
 * headers went before the close began (a video streaming, an answer written just then) carry no
 * `connection: close`, so their connections are closed once idle, looked at every 100 ms.
 */
export async function closeLettingAnswersEnd(app: FastifyInstance): Promise<void> {
  const sweep = setInterval(() => app.server.closeIdleConnections(), SWEEP_MS);
  try {
    await app.close();
  } finally {
    clearInterval(sweep);
  }
}
