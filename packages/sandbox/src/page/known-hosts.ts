import type { FastifyInstance } from 'fastify';

/**
 * Refuses (421) a request whose Host header is not one of `hosts`: the sandbox page drives the
 * relay and has no password, so a web page elsewhere must not reach it through a name of its own
 * that resolves here (DNS rebinding).
 */
export function onlyKnownHosts(app: FastifyInstance, hosts: readonly string[]): void {
  const known = new Set(hosts.map((h) => h.toLowerCase()));
  app.addHook('onRequest', async (req, reply) => {
    const hostname = hostnameOf(req.headers.host);
    if (hostname === undefined || !known.has(hostname)) return reply.code(421).send({ error: `the sandbox answers only to ${[...known].join(', ')}` });
  });
}

/** The host name of a Host header, lower case, an IPv6 address without its brackets. */
function hostnameOf(header: string | undefined): string | undefined {
  try {
    return new URL(`http://${header ?? ''}`).hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  } catch {
    return undefined;
  }
}
