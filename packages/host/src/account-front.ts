import { type Config, DEFAULT_ACCOUNT, accountsOf, loggerOptions } from '@wxim/config';
import Fastify, { type FastifyBaseLogger, type FastifyReply, type FastifyRequest, type LightMyRequestResponse, LogController } from 'fastify';
import { mergeAccountMetrics } from './account-metrics.js';
import { closeAfterAnswerWhen, letAnswersLeaveBeforeClose } from './close-after-answer.js';
import { type FrontOutcome, frontRequests } from './front-metrics.js';
import { HEALTH_PATHS } from './health-routes.js';
import { metricsRegistry } from './metrics-registry.js';
import { readRequestBody } from './request-body.js';
import { requestTimeLimit } from './request-time-limit.js';
import type { AccountService, BuildOptions, RunningService, ServiceDefinition } from './service-definition.js';

/**
 * Where a request goes: its account, and the path that account's service knows it by. Several
 * accounts: each is handed the request (e.g. a callback of an IM app that accounts share, which
 * each account's service takes only if it is about its own customer), and the answer is the first
 * that is not a success, else the first.
 */
export interface AccountTarget {
  account: string | readonly string[];
  url: string;
}

/** A request handed to several accounts (an IM callback) is read whole first: at most this much, im-callback's own limit. */
const FAN_OUT_BODY_LIMIT = 64 * 1024;

/**
 * A path the front would route differently from a proxy before it: a backslash, a dot segment, an
 * empty segment or an encoded dot or slash (a URL parser resolves `/media/x/..%2f..` where an
 * ingress saw `/media/…`). Such a request is refused: no account's service is reached by a path
 * the ingress did not mean to let through.
 */
const AMBIGUOUS_PATH = /\\|%2e|%2f|%5c|\/\/|\/\.\.?(\/|$)/i;

/**
 * A service's own ways of naming an account in a request (e.g. `/wechat/<account>`, or IM's
 * SdkAppid); `undefined` leaves it to the common `/accounts/<account>/…`.
 */
export type AccountRoute = (url: URL, accounts: readonly Config[]) => AccountTarget | undefined;

const ACCOUNTS_PATH = /^\/accounts\/([a-z0-9][a-z0-9_-]{0,31})(\/.*)$/;

/** `/accounts/<account>/<rest>` → `/<rest>` of that account's service. */
function commonRoute(url: URL): AccountTarget | undefined {
  const m = ACCOUNTS_PATH.exec(url.pathname);
  return m === null ? undefined : { account: m[1]!, url: `${m[2]!}${url.search}` };
}

/**
 * One service for every account of ACCOUNTS_FILE, in this process: the definition built once per
 * account (its own Redis connections, queues, clients and workers, under the account's keys), and
 * in front of them one server on the service's port. The front answers /healthz (this process),
 * /readyz (every account ready) and /metrics (every account's, with an `account` label, and its own
 * count of requests, wxim_front_requests_total), and hands
 * every other request to its account's service whole, as that service would take it on its own
 * port: the account the request names (`/accounts/<account>/…`, or the service's own way), else
 * `default`, which so keeps every path it has without the file. The service may add pages of the
 * front's own, over every account (ServiceDefinition.frontRoutes). Without ACCOUNTS_FILE the
 * definition is built as it is.
 */
export async function buildForAccounts(definition: ServiceDefinition, config: Config, options: BuildOptions): Promise<RunningService> {
  if (config.accounts.length === 0) return definition.build(config, options);
  const built: AccountService[] = [];
  const made = new Map<string, unknown>();
  const shared = <T>(key: string, make: () => T): T => {
    if (!made.has(key)) made.set(key, make());
    return made.get(key) as T;
  };
  try {
    for (const [i, account] of accountsOf(config).entries()) {
      const service = await definition.build(account, { processMetrics: options.processMetrics && i === 0, behindAccountsFront: true, shared });
      built.push({ account: account.account, config: account, service });
      await service.app.ready();
    }
  } catch (err) {
    await Promise.allSettled(built.map((b) => b.service.close()));
    throw err;
  }
  const byAccount = new Map(built.map((b) => [b.account, b.service]));
  // While closing, requests still reach their accounts' services, which answer them as on their own
  // (im-callback refuses a callback so that it is looked for in IM's history later).
  const front = Fastify({
    logger: loggerOptions(config.logLevel, definition.name),
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: false,
    return503OnClosing: false,
    ...requestTimeLimit(),
  });
  let stopping = false;
  closeAfterAnswerWhen(front, () => stopping);
  letAnswersLeaveBeforeClose(front);
  const registry = metricsRegistry();
  const count = frontRequests(registry, definition.name);
  front.addHook('onRequest', async (req, reply) => {
    const rawPath = (req.raw.url ?? '/').split('?')[0]!;
    if (AMBIGUOUS_PATH.test(rawPath)) {
      count('malformed_path');
      return reply.code(400).send({ error: 'malformed path' });
    }
    const url = new URL(req.raw.url ?? '/', 'http://front');
    // The front's own routes: health, and the service's pages over every account.
    if (HEALTH_PATHS.includes(url.pathname) || req.routeOptions.url !== undefined) return;
    const target = definition.accountRoute?.(url, config.accounts) ?? commonRoute(url) ?? { account: DEFAULT_ACCOUNT, url: req.raw.url ?? '/' };
    const accounts = typeof target.account === 'string' ? [target.account] : target.account;
    const services = accounts.map((a) => byAccount.get(a));
    if (services.length === 0 || services.includes(undefined)) {
      count('unknown_account');
      return reply.code(404).send({ error: 'no such account' });
    }
    if (services.length === 1) {
      count('routed');
      req.raw.url = target.url;
      reply.hijack();
      return services[0]!.app.routing(req.raw, reply.raw);
    }
    return fanOut(req, reply, services as RunningService[], target.url, count, front.log);
  });
  front.get('/healthz', async () => ({ status: 'ok' }));
  front.get('/readyz', async (_req, reply) => {
    const answers = await Promise.all(built.map(async (b) => ({ account: b.account, ok: (await b.service.app.inject('/readyz')).statusCode === 200 })));
    const down = answers.filter((a) => !a.ok).map((a) => a.account);
    return reply.code(down.length === 0 ? 200 : 503).send(down.length === 0 ? { status: 'ready' } : { status: 'not ready', accounts: down });
  });
  front.get('/metrics', async (_req, reply) => {
    const answers = await Promise.all(built.map(async (b) => ({ account: b.account, answer: await b.service.app.inject('/metrics') })));
    // An account without its metrics fails the scrape (the target shows down), rather than its series going absent.
    const failed = answers.filter((a) => a.answer.statusCode !== 200).map((a) => a.account);
    if (failed.length > 0) return reply.code(503).send({ error: 'metrics unavailable', accounts: failed });
    const merged = mergeAccountMetrics(answers.map((a) => ({ account: a.account, text: a.answer.body })));
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(merged + (await registry.metrics()));
  });
  try {
    await definition.frontRoutes?.(front, built);
  } catch (err) {
    await Promise.allSettled(built.map((b) => b.service.close()));
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    app: front,
    start() {
      for (const b of built) b.service.start?.();
    },
    close() {
      closing ??= (async () => {
        for (const b of built) b.service.closing?.();
        stopping = true;
        await front.close();
        await Promise.all(built.map((b) => b.service.close()));
      })();
      return closing;
    },
  };
}

/**
 * A request for every account sharing an IM app: read whole (at most im-callback's own limit),
 * handed to each, and answered with the first answer that is not a success, else the first. What
 * the front answers itself, an account's service is told of (RunningService.missed): it never saw
 * the request, and a callback it never saw must still be looked for in IM's history.
 */
async function fanOut(
  req: FastifyRequest,
  reply: FastifyReply,
  services: readonly RunningService[],
  url: string,
  count: (outcome: FrontOutcome) => void,
  log: FastifyBaseLogger,
): Promise<FastifyReply> {
  const failed = (missed: readonly RunningService[], err: unknown) => {
    count('failed');
    for (const service of missed) service.missed?.(url, 'failed');
    log.error({ reason: (err as Error).message, accounts: missed.length }, 'a request for several accounts failed before their services saw it');
    return reply.code(500).send({ error: 'internal error' });
  };
  const tooLarge = () => {
    count('too_large');
    for (const service of services) service.missed?.(url, 'too_large');
    return reply.code(413).header('connection', 'close').send({ error: 'body too large' });
  };
  // Answered before reading when Content-Length says so; a body that runs over the limit while it
  // is read (chunked) is left unread and answered 413 the same way, its connection then closed.
  if (Number(req.headers['content-length'] ?? 0) > FAN_OUT_BODY_LIMIT) return tooLarge();
  let body: Buffer | undefined;
  try {
    body = await readRequestBody(req.raw, FAN_OUT_BODY_LIMIT);
  } catch (err) {
    // The client went away, or its body broke off: no account saw the request.
    return failed(services, err);
  }
  if (body === undefined) return tooLarge();
  const { 'content-length': _length, 'transfer-encoding': _encoding, ...headers } = req.headers;
  const settled = await Promise.allSettled(services.map((service) => service.app.inject({ method: req.method as 'POST', url, headers, payload: body })));
  const lost = services.filter((_s, i) => settled[i]!.status === 'rejected');
  if (lost.length > 0) return failed(lost, (settled.find((s) => s.status === 'rejected') as PromiseRejectedResult).reason);
  count('fanned_out');
  const answers = settled.map((s) => (s as PromiseFulfilledResult<LightMyRequestResponse>).value);
  const answer = answers.find((a) => a.statusCode >= 300) ?? answers[0]!;
  return reply
    .code(answer.statusCode)
    .header('content-type', answer.headers['content-type'] ?? 'application/json')
    .send(answer.rawPayload);
}
