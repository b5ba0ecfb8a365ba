import { httpOrigin } from '@wxim/config';
import { LISTEN_BACKLOG } from '@wxim/host';
import type { FastifyInstance } from 'fastify';

/**
 * Listens on `port` (0: any free one) of `host` and resolves to the origin, e.g.
 * http://127.0.0.1:43121. With the relay's backlog: a burst of calls is taken as the platform takes it.
 */
export async function listenAt(app: FastifyInstance, port: number, host: string): Promise<string> {
  await app.listen({ port, host, backlog: LISTEN_BACKLOG });
  const address = app.server.address() as { port: number };
  return httpOrigin(host, address.port);
}
