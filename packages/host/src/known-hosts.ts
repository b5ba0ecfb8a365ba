import type { Config } from '@wxim/config';
import type { FastifyInstance } from 'fastify';

export interface KnownHostsOptions {
  /** Paths answered whatever the Host: probes and Prometheus name a pod by its IP or a Service's name. */
  open?: readonly string[];
}

/**
 * The names this machine reaches what listens on LOCAL_BIND by: the loopback names and LOCAL_BIND's
 * own address. A page elsewhere cannot take any of them: DNS rebinding needs a name of its own.
 */
export function localHosts(config: Config): string[] {
  return ['127.0.0.1', 'localhost', '::1', config.localBind];
}

/**
 * Refuses (421) a request whose Host header is not one of `hosts`. What answers here without a
 * password must not be read by a web page elsewhere that points a name of its own at this machine
 * (DNS rebinding): the browser then sends that name as the Host.
 */
export function onlyKnownHosts(app: FastifyInstance, hosts: readonly string[], options: KnownHostsOptions = {}): void {
  const known = new Set(hosts.map((h) => h.toLowerCase()));
  const open = options.open ?? [];
  app.addHook('onRequest', async (req, reply) => {
    if (open.includes(req.url.split('?')[0]!)) return;
    const hostname = hostnameOf(req.headers.host);
    if (hostname === undefined || !known.has(hostname))
      return reply.code(421).send({ error: `unknown host: this service answers only to ${[...known].join(', ')}` });
  });
}

/** `name[:port]` or `[v6]:port`, nothing else: no user, path or second colon slips a known name in. */
const HOST_HEADER = /^(?:\[([0-9a-f:.]+)\]|([^\s:@/?#[\]\\]+))(?::\d{1,5})?$/i;

/** The host name of a Host header, lower case, an IPv6 address without its brackets. */
function hostnameOf(header: string | undefined): string | undefined {
  const m = HOST_HEADER.exec(header ?? '');
  return m === null ? undefined : (m[1] ?? m[2])!.toLowerCase();
}
