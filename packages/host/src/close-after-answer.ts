import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';

/**
 * While the server closes, every answer closes its connection once its last byte has gone
 * (`connection: close` where its headers are still to go, so a proxy sends no other request on
 * it). Node closes the idle connections when the close begins, but one whose request was in
 * flight then stays open after its answer for the keep-alive's 72 s: the close would wait that
 * long, past the grace, and the service's own close (im-callback's clean stop) would never run.
 */
export function closeAfterAnswerWhen(app: FastifyInstance, stopping: () => boolean): void {
  app.addHook('onSend', async (_req, reply) => {
    if (stopping()) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (req) => {
    // After the bytes this process still holds for a slow client, never before them.
    if (stopping()) req.raw.socket?.destroySoon();
  });
}

/** How long a close waits for the answers already written to leave this process, at most. */
const FLUSH_WAIT_MS = 5000;

/**
 * Lets the answers already written leave before the server closes. Node's close cuts every
 * connection whose answer is written, even when its bytes still wait in this process for a slow
 * client (a voice to an agent's player): the close first waits, at most 5 s, until no connection
 * holds bytes not handed to the system (in Fastify's last step before it closes the server).
 */
export function letAnswersLeaveBeforeClose(app: FastifyInstance): void {
  const sockets = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  app.addHook('preClose', async () => {
    const until = Date.now() + FLUSH_WAIT_MS;
    while ([...sockets].some((s) => s.writableLength > 0) && Date.now() < until) await sleep(20);
  });
}
