import {
  AFTER_MSG_WITHDRAW,
  AFTER_SEND_MSG,
  CALLBACK_OK,
  CallbackBodyError,
  MAX_MSG_TIME_SKEW_MS,
  STATE_CHANGE,
  callbackError,
  parseAfterSendMsg,
  parseMsgWithdraw,
  parseStateChange,
  verifyCallbackQuery,
} from '@wxim/im';
import type { MissedReason } from '@wxim/host';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AgentSignal } from '@wxim/queue';
import type { CallbackWatch } from './callback-watch.js';
import { type CallbackMetrics, type CallbackOutcome, countedCommand } from './metrics.js';
import type { ReplyStore } from './reply-store.js';

export interface CallbackRouteOptions {
  sdkAppId: number;
  /** IM_CALLBACK_TOKEN: when set, every callback must carry a fresh RequestTime and its Sign. */
  token?: string;
  store: ReplyStore;
  watch: CallbackWatch;
  /** Records an agent's login state (State.StateChange). */
  recordState: (account: string, state: { action: string; eventTime: number }) => Promise<void>;
  metrics: CallbackMetrics;
}

/**
 * How far RequestTime may be from our clock: IM's documentation says to refuse more than a minute.
 * The Sign covers only the token and this time, so a captured callback URL is good for this long.
 */
export const MAX_SKEW_SECONDS = 60;

/** IM sends callbacks of a few KB; a reply's body is at most 12 KB. */
export const CALLBACK_BODY_LIMIT = 64 * 1024;

/** `POST /im/callback`: Tencent IM's callbacks, checked, and agents' replies stored before IM is answered. */
export async function callbackRoutes(app: FastifyInstance, opts: CallbackRouteOptions): Promise<void> {
  const { metrics } = opts;
  const done = (req: FastifyRequest, reply: FastifyReply, command: string, outcome: CallbackOutcome, status: number, body: object) => {
    metrics.callbacks.inc({ command: countedCommand(command), outcome });
    metrics.answer.observe({ outcome }, (performance.now() - req.startedAt) / 1000);
    return reply.code(status).send(body);
  };

  app.addHook('onRequest', async (req) => {
    req.startedAt = performance.now();
  });

  // A body that is not JSON, or too large, is answered before the handler, in IM's style.
  app.setErrorHandler((err: { statusCode?: number; message: string }, req, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ reason: err.message }, 'callback failed');
    else req.log.warn({ reason: err.message }, 'callback refused');
    return done(
      req,
      reply,
      'unknown',
      status === 500 ? 'unavailable' : 'bad_request',
      status,
      callbackError(1, status === 500 ? 'internal error' : err.message),
    );
  });

  /**
   * Stores an agent's signal before IM is answered, as a reply is. Nothing in IM's history would
   * bring a lost one back (typing is not kept; a recall shows only as a flag), so no gap is marked.
   */
  const signal = async (req: FastifyRequest, reply: FastifyReply, command: string, kind: AgentSignal, msg: Parameters<ReplyStore['storeSignal']>[1]) => {
    let stored: string | undefined;
    try {
      stored = await opts.store.storeSignal(kind, msg);
    } catch (err) {
      req.log.error({ reason: (err as Error).message, msgKey: msg.msgKey, signal: kind }, 'signal not stored, answering an error');
      return done(req, reply, command, 'unavailable', 503, callbackError(1, 'temporarily unavailable'));
    }
    if (stored === undefined) {
      req.log.debug({ msgKey: msg.msgKey, signal: kind }, 'signal not from an agent to a customer of the relay');
      return done(req, reply, command, 'ignored', 200, CALLBACK_OK);
    }
    return done(req, reply, command, 'signal', 200, CALLBACK_OK);
  };

  app.post<{ Querystring: Record<string, unknown>; Body: unknown }>('/im/callback', async (req, reply) => {
    // The signature first: a request that is not IM's changes nothing, not even a gap.
    const check = verifyCallbackQuery(req.query, {
      sdkAppId: opts.sdkAppId,
      ...(opts.token === undefined ? {} : { token: opts.token }),
      nowMs: Date.now(),
      maxSkewSeconds: MAX_SKEW_SECONDS,
    });
    if (!check.ok) {
      req.log.warn({ reason: check.reason }, 'callback refused');
      return done(req, reply, 'unknown', 'refused', check.status, callbackError(1, check.reason));
    }
    const { command } = check;
    if (opts.watch.isClosing) {
      // Shutting down: IM will not send it again, so its time is looked up in IM's history later.
      opts.watch.failed();
      reply.header('connection', 'close');
      return done(req, reply, command, 'unavailable', 503, callbackError(1, 'shutting down'));
    }
    try {
      if (command === AFTER_SEND_MSG) {
        const msg = parseAfterSendMsg(req.body);
        // A replayed or made-up message: IM calls back within seconds of a send.
        if (Math.abs(msg.msgTime * 1000 - Date.now()) > MAX_MSG_TIME_SKEW_MS) throw new CallbackBodyError('MsgTime is not within 5 minutes of now');
        if (msg.onlineOnlyFlag === 1) {
          // Online-only: never delivered to the customer as a message; an agent's typing is shown.
          const kind = opts.store.signalOf(msg);
          if (kind === 'typing' || kind === 'typing-stop') return await signal(req, reply, command, kind, msg);
          req.log.debug({ skip: kind, msgKey: msg.msgKey }, 'online-only message is not relayed');
          return done(req, reply, command, kind === 'not_typing' ? 'online_only' : 'ignored', 200, CALLBACK_OK);
        }
        const skip = opts.store.skipOf(msg);
        if (skip !== undefined) {
          req.log.debug({ skip, msgKey: msg.msgKey }, 'after-send callback changes nothing');
          return done(req, reply, command, 'ignored', 200, CALLBACK_OK);
        }
        let stored: string | undefined;
        try {
          stored = await opts.store.store(msg, 'callback');
        } catch (err) {
          // Never OK for a reply that is not stored; IM will not send it again, so the time is
          // marked for a look through IM's history once Redis answers.
          opts.watch.failed();
          req.log.error({ reason: (err as Error).message, msgKey: msg.msgKey }, 'reply not stored, answering an error');
          return done(req, reply, command, 'unavailable', 503, callbackError(1, 'temporarily unavailable'));
        }
        if (stored === undefined) {
          req.log.debug({ msgKey: msg.msgKey }, 'after-send callback to an account that is not a customer of the relay');
          return done(req, reply, command, 'ignored', 200, CALLBACK_OK);
        }
        return done(req, reply, command, 'stored', 200, CALLBACK_OK);
      }
      if (command === AFTER_MSG_WITHDRAW) return await signal(req, reply, command, 'recall', parseMsgWithdraw(req.body));
      if (command === STATE_CHANGE) {
        const state = parseStateChange(req.body);
        // A time to come (a made-up callback, a broken clock) would outrank every real state after it, for good.
        if (state.eventTime !== undefined && state.eventTime - Date.now() > MAX_MSG_TIME_SKEW_MS)
          throw new CallbackBodyError('EventTime is more than 5 minutes ahead of now');
        // When IM saw it (its EventTime): a late Logout must not override a newer Login.
        await opts.recordState(state.account, { action: state.action, eventTime: state.eventTime ?? Date.now() });
        return done(req, reply, command, 'state', 200, CALLBACK_OK);
      }
      req.log.debug({ command }, 'callback command the relay does not use');
      return done(req, reply, command, 'ignored', 200, CALLBACK_OK);
    } catch (err) {
      if (err instanceof CallbackBodyError) {
        req.log.warn({ command, reason: err.message }, 'callback refused');
        return done(req, reply, command, 'bad_request', 400, callbackError(1, err.message));
      }
      throw err;
    }
  });
}

/**
 * A callback for this account that the front of several accounts answered itself, unseen here
 * (RunningService.missed), counted as this service would have answered it: a body over the limit
 * as `bad_request` (no gap, as on its own); one the front could not read or hand on, if IM signed
 * it, as `unavailable`, its time marked as a gap like any callback not stored.
 */
export function missedCallback(opts: Pick<CallbackRouteOptions, 'sdkAppId' | 'token' | 'watch' | 'metrics'>): (url: string, why: MissedReason) => void {
  return (url, why) => {
    if (why === 'too_large') return opts.metrics.callbacks.inc({ command: 'unknown', outcome: 'bad_request' });
    const check = verifyCallbackQuery(Object.fromEntries(new URL(url, 'http://front').searchParams), {
      sdkAppId: opts.sdkAppId,
      ...(opts.token === undefined ? {} : { token: opts.token }),
      nowMs: Date.now(),
      maxSkewSeconds: MAX_SKEW_SECONDS,
    });
    // The signature first, as for a callback seen here: a request that is not IM's marks no gap.
    if (!check.ok) return opts.metrics.callbacks.inc({ command: 'unknown', outcome: 'refused' });
    opts.watch.failed();
    opts.metrics.callbacks.inc({ command: countedCommand(check.command), outcome: 'unavailable' });
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    startedAt: number;
  }
}
