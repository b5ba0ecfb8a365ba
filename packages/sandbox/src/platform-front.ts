import { readRequestBody } from '@wxim/host';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ImSimulator } from './im-simulator.js';
import { listenAt } from './listen.js';
import type { WechatApiSimulator } from './wechat-api-simulator.js';

/** A simulator of one app of a platform (an IM app, an Official Account's API). */
interface SimulatedApp {
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

/** How a request names its app. */
export interface AppChoice<T> {
  /** The app the request names, if it names one held here. `body`: its JSON, for requests `inBody` says name it there. */
  pick(url: URL, body: Record<string, unknown> | undefined): T | undefined;
  inBody(url: URL): boolean;
}

/** A request that names its app in its body is read whole first: at most this much (a token request is a few hundred bytes). */
const BODY_LIMIT = 16 * 1024;

/**
 * Several simulated apps of one platform on one port, as the platform serves all of its apps at
 * one address: each request is handed whole to the app it names. One that names none, or an app
 * not held here, goes to the first app, which answers it as the platform would (an unknown
 * SDKAppID, AppID or access_token is refused). So the sandbox's second account costs no port.
 */
export class PlatformFront<T extends SimulatedApp> {
  readonly app: FastifyInstance;

  constructor(
    readonly apps: readonly T[],
    choice: AppChoice<T>,
  ) {
    this.app = Fastify({ logger: false });
    this.app.addHook('onRequest', async (req, reply) => {
      const url = new URL(req.raw.url ?? '/', 'http://front');
      if (!choice.inBody(url)) {
        const target = choice.pick(url, undefined) ?? apps[0]!;
        reply.hijack();
        return target.app.routing(req.raw, reply.raw);
      }
      // A body over the limit is answered, not cut off: the client reads the 413, then the connection closes.
      const body = await readRequestBody(req.raw, BODY_LIMIT);
      if (body === undefined) return reply.code(413).header('connection', 'close').send({ error: 'body too large' });
      const target = choice.pick(url, jsonObject(body)) ?? apps[0]!;
      const { 'content-length': _length, 'transfer-encoding': _encoding, ...headers } = req.headers;
      const answer = await target.app.inject({ method: req.method as 'POST', url: req.raw.url ?? '/', headers, payload: body });
      return reply
        .code(answer.statusCode)
        .header('content-type', answer.headers['content-type'] ?? 'application/json')
        .send(answer.rawPayload);
    });
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    await Promise.all(this.apps.map((a) => a.app.ready()));
    return listenAt(this.app, port, host);
  }

  async close(): Promise<void> {
    await this.app.close();
    for (const a of this.apps) await a.close();
  }
}

function jsonObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * IM apps on one port, as IM's one REST domain serves every app: each call names its app in the
 * query (`sdkappid`); the `/sim/*` routes take the same parameter (e.g. `/sim/messages?sdkappid=1400000002`).
 */
export function imApps(apps: readonly ImSimulator[]): PlatformFront<ImSimulator> {
  return new PlatformFront(apps, {
    pick: (url) => apps.find((a) => String(a.options.sdkAppId) === url.searchParams.get('sdkappid')),
    inBody: () => false,
  });
}

/**
 * Official Accounts' APIs on one port, as api.weixin.qq.com serves every account: a token is asked
 * for with the AppID (cgi-bin/token's query, stable_token's body), and every other call carries
 * an access_token, which only the account that issued it knows. The `/sim/*` routes take `?appid=`.
 */
export function wechatApiApps(apps: readonly WechatApiSimulator[]): PlatformFront<WechatApiSimulator> {
  const stable = (url: URL) => url.pathname === '/cgi-bin/stable_token';
  return new PlatformFront(apps, {
    pick: (url, body) => {
      const appId = stable(url) ? body?.['appid'] : url.searchParams.get('appid');
      const token = url.searchParams.get('access_token');
      return apps.find((a) => (typeof appId === 'string' && a.options.appId === appId) || (token !== null && a.issued(token)));
    },
    inBody: stable,
  });
}
