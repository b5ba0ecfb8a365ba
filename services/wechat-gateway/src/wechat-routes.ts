import { randomInt } from 'node:crypto';
import {
  type MessageCipher,
  type PushQuery,
  PushRejected,
  type PushSecrets,
  buildEncryptedReply,
  buildTextReply,
  openPush,
  singleValuedQuery,
  verifyRequest,
} from '@wxim/wechat';
import type { PushAddresses } from '@wxim/state';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AutoReply, AutoReplyText } from './auto-reply.js';
import type { InboundEnqueuer } from './inbound-enqueuer.js';
import type { Outcome } from './metrics.js';

export interface WechatRouteOptions {
  token: string;
  cipher?: MessageCipher;
  /** WECHAT_REQUIRE_ENCRYPTION: refuse pushes that are not encrypted. */
  requireEncryption?: boolean;
  /** Passive reply to a follow; empty: answer `success` as for everything else. */
  welcomeText: string;
  enqueuer: InboundEnqueuer;
  /** What a customer is told while nobody can answer (off hours, waiting); none: nothing. */
  autoReply?: Pick<AutoReply, 'lookFor'>;
  /** Binds each plainly signed address to what it first carried (see PushAddresses); none: not checked. */
  addresses?: Pick<PushAddresses, 'claim'>;
}

/** A plainly signed address used again for something else: the signature does not cover the body. */
const REUSED = new PushRejected(401, 'unauthorized', 'this signed address was already used for another request');

declare module 'fastify' {
  interface FastifyRequest {
    outcome?: Outcome;
  }
}

/** WeChat's pushes are a few KB: a larger body is answered 413 before the XML parser sees it. */
export const PUSH_BODY_LIMIT = 64 * 1024;

function reject(req: FastifyRequest, reply: FastifyReply, err: PushRejected): FastifyReply {
  req.outcome = err.outcome;
  if (err.status === 500) req.log.error({ reason: err.message }, 'push refused');
  else req.log.warn({ reason: err.message }, 'push refused');
  return reply
    .code(err.status)
    .type('text/plain')
    .send(err.status === 500 ? 'misconfigured' : err.message);
}

export async function wechatRoutes(app: FastifyInstance, opts: WechatRouteOptions): Promise<void> {
  // Pushes are read as text whatever their content type; the XML parser sees nothing over 64 KB.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: PUSH_BODY_LIMIT }, (_req, body, done) => done(null, body));

  /**
   * Whether a plainly signed address may carry `use`; when not, the answer is sent (401, or 503 on a
   * Redis failure: nothing was done, WeChat asks again) and this resolves false. A boolean, not the
   * reply: Fastify's reply is thenable, and an async function returning it would await it.
   */
  const claimed = async (req: FastifyRequest, reply: FastifyReply, query: PushQuery, use: string, arrived: number): Promise<boolean> => {
    if (opts.addresses === undefined) return true;
    let ok: boolean;
    try {
      // Within the store's budget, which the store then has what is left of.
      ok = await opts.addresses.claim(query.timestamp!, query.nonce!, use, Math.max(1, opts.enqueuer.budgetMs - (Date.now() - arrived)));
    } catch (err) {
      req.outcome = 'unavailable';
      req.log.error({ reason: (err as Error).message }, 'could not check the signed address, answering 503');
      void reply.code(503).type('text/plain').send('temporarily unavailable');
      return false;
    }
    if (!ok) void reject(req, reply, REUSED);
    return ok;
  };

  app.get<{ Querystring: Record<string, unknown> }>('/wechat', async (req, reply) => {
    const arrived = Date.now();
    let echostr: string | undefined;
    let query: PushQuery & { echostr?: string };
    try {
      query = singleValuedQuery(req.query);
      verifyRequest(query, opts.token, Math.floor(Date.now() / 1000));
      echostr = query.echostr;
    } catch (err) {
      if (err instanceof PushRejected) return reject(req, reply, err);
      throw err;
    }
    if (echostr === undefined) return reject(req, reply, new PushRejected(400, 'bad_request', 'missing echostr'));
    // The console's verification address is signed as a push's is: it verifies, and carries no push.
    if (!(await claimed(req, reply, query, `verify:${echostr}`, arrived))) return reply;
    req.outcome = 'verified';
    return reply.type('text/plain').send(echostr);
  });

  const secrets: PushSecrets = { token: opts.token, ...(opts.cipher ? { cipher: opts.cipher } : {}), requireEncryption: opts.requireEncryption ?? false };
  app.post<{ Querystring: Record<string, unknown>; Body: string | undefined }>('/wechat', async (req, reply) => {
    const arrived = Date.now();
    const now = Math.floor(arrived / 1000);
    let opened;
    let query: PushQuery;
    try {
      query = singleValuedQuery(req.query);
      opened = openPush(query, req.body ?? '', secrets, now);
    } catch (err) {
      if (err instanceof PushRejected) return reject(req, reply, err);
      throw err;
    }
    const timestamp = Number(query.timestamp);
    const { message, encrypted, key } = opened;
    // An encrypted push's msg_signature covers its body; a plain one's address is bound to its first body.
    if (!encrypted) {
      if (!(await claimed(req, reply, query, `push:${req.body ?? ''}`, arrived))) return reply;
    }
    // The look at whether the customer waits runs in the transaction that stores the push. Stored,
    // a failed look only costs the customer the notice, never the message.
    const look = opts.autoReply?.lookFor(message, Date.now());
    // The look of the try that stored the push (a try while Redis was away is made again, look and all).
    let notice: Promise<{ text: AutoReplyText | undefined } | { err: Error }> | undefined;
    const besides =
      look &&
      ((transaction: Parameters<typeof look>[0]) => {
        const queued = look(transaction);
        notice = queued.notice.then(
          (text) => ({ text }),
          (err: Error) => ({ err }),
        );
        return queued;
      });
    try {
      await opts.enqueuer.enqueue(message, timestamp, besides, arrived);
    } catch (err) {
      // Never `success` for a push that is not stored: WeChat will try again.
      req.outcome = 'unavailable';
      req.log.error({ reason: (err as Error).message, kind: message.kind }, 'push not stored, answering 503');
      return reply.code(503).type('text/plain').send('temporarily unavailable');
    }
    let text: string | undefined;
    if (message.kind === 'subscribe' && opts.welcomeText !== '') {
      text = opts.welcomeText;
      req.outcome = 'welcomed';
    } else if (notice !== undefined) {
      const looked = await notice;
      if ('err' in looked) req.log.warn({ reason: looked.err.message }, 'could not tell whether the customer waits: answered without a notice');
      const auto = 'text' in looked ? looked.text : undefined;
      if (auto !== undefined) {
        text = auto.text;
        req.outcome = 'auto_replied';
      }
    }
    if (text === undefined) {
      req.outcome = 'enqueued';
      return reply.type('text/plain').send('success');
    }
    const xml = buildTextReply({ toUserName: message.fromUserName, fromUserName: message.toUserName, content: text, createTime: now });
    if (!encrypted || opts.cipher === undefined) return reply.type('application/xml').send(xml);
    return reply.type('application/xml').send(buildEncryptedReply(opts.cipher, opts.token, xml, String(now), String(randomInt(1e9)), key));
  });
}
