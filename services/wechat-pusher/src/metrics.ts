import { IM_COMMANDS, IM_RATE_LIMIT_CODES, type RelayMarkState } from '@wxim/im';
import type { ReplyJob } from '@wxim/queue';
import { metricsRegistry } from '@wxim/host';
import { REPLY_APIS } from '@wxim/wechat';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { TransferCause } from './service-levels.js';

export interface PusherMetrics {
  registry: Registry;
  replies: Counter<'outcome' | 'via'>;
  latency: Histogram;
  retries: Counter<'class'>;
  wechatCalls: Counter<'api' | 'outcome'>;
  wechatCallSeconds: Histogram<'api'>;
  tokenFetches: Counter<'api' | 'outcome'>;
  imCalls: Counter<'command' | 'outcome'>;
  imCallSeconds: Histogram<'command'>;
  inFlight: Gauge;
  deskCommands: Counter<'command' | 'outcome'>;
  firstResponse: Histogram;
  resolution: Histogram;
  transfers: Counter<'cause'>;
  slaExhausted: Counter;
  /** Agents' typing and recalls: see typing.ts and undo.ts for the outcomes. */
  signals: Counter<'signal' | 'outcome'>;
  deliveryMarks: Counter<'state' | 'outcome'>;
  windowWarnings: Counter<'outcome'>;
  /** The agent's messages put ahead of a later reply of theirs (moved) or not waited for any longer (gave_up): see reply-order.ts. */
  replyOrder: Counter<'outcome'>;
  /** The fleet's periodic checks run by this instance (first_response, window_warning) by outcome (done, failed). */
  checks: Counter<'check' | 'outcome'>;
}

export function createPusherMetrics(options: { processMetrics?: boolean } = {}): PusherMetrics {
  const metrics = buildMetrics(options);
  // A counter's first sample is its baseline: a series born at 1 shows no increase, and a pod's
  // first failed, unconfirmed or uncertain reply would page nobody. So those series start at 0, as
  // do the others an alert watches with increase(): one credential retry, one 60007 or 45011.
  for (const outcome of ['failed', 'unconfirmed', 'uncertain'])
    for (const via of ['callback', 'recovery', 'sweep'] satisfies ReplyJob['via'][]) metrics.replies.inc({ outcome, via }, 0);
  for (const cause of ['command', 'sla'] satisfies TransferCause[]) metrics.transfers.inc({ cause }, 0);
  for (const state of ['queued', 'delivered', 'not_delivered'] satisfies RelayMarkState[]) metrics.deliveryMarks.inc({ state, outcome: 'failed' }, 0);
  for (const outcome of ['refused', 'failed']) metrics.windowWarnings.inc({ outcome }, 0);
  for (const outcome of ['moved', 'gave_up']) metrics.replyOrder.inc({ outcome }, 0);
  for (const check of ['first_response', 'window_warning']) for (const outcome of ['done', 'failed']) metrics.checks.inc({ check, outcome }, 0);
  for (const decision of ['credential', 'configuration']) metrics.retries.inc({ class: decision }, 0);
  for (const command of IM_COMMANDS) for (const outcome of IM_RATE_LIMIT_CODES) metrics.imCalls.inc({ command, outcome }, 0);
  for (const api of REPLY_APIS) metrics.wechatCalls.inc({ api, outcome: '45011' }, 0);
  return metrics;
}

function buildMetrics(options: { processMetrics?: boolean }): PusherMetrics {
  const registry = metricsRegistry(options);
  const registers = [registry];
  const callBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  return {
    registry,
    replies: new Counter({
      name: 'wxim_pusher_replies_total',
      help: "Agent replies by outcome (delivered; undelivered or uncertain, their agent told; unconfirmed: IM's history does not show its agent sent it; failed; command: a desk command, run; not_theirs: from an agent who no longer serves the customer; not_agent: from an account that is not one of IM_AGENTS, its sender told; withdrawn: recalled by its agent before it went) and how they reached the relay (callback, recovery, sweep)",
      labelNames: ['outcome', 'via'],
      registers,
    }),
    latency: new Histogram({
      name: 'wxim_pusher_delivery_seconds',
      help: 'From when a reply may go (im-callback stored it, plus REPLY_UNDO_MS) to WeChat accepting its last part',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    deskCommands: new Counter({
      name: 'wxim_desk_commands_total',
      help: 'Agent commands (transfer, close, canned, help, malformed) by outcome (done; refused: not their customer, nobody free, an unknown code or agent)',
      labelNames: ['command', 'outcome'],
      registers,
    }),
    // Minutes to days: a first answer within the minute, a conversation over days (CLOSE_AFTER_IDLE up to 30 d).
    firstResponse: new Histogram({
      name: 'wxim_desk_first_response_seconds',
      help: "From a conversation's first customer message to the first reply delivered from its agent",
      buckets: [10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600],
      registers,
    }),
    resolution: new Histogram({
      name: 'wxim_desk_resolution_seconds',
      help: "From a conversation's first customer message to its agent's /close",
      buckets: [60, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600, 48 * 3600, 7 * 24 * 3600],
      registers,
    }),
    transfers: new Counter({
      name: 'wxim_desk_transfers_total',
      help: "Conversations handed to another agent, by cause (command: an agent's /transfer; sla: unanswered past FIRST_RESPONSE_SLA_S)",
      labelNames: ['cause'],
      registers,
    }),
    slaExhausted: new Counter({
      name: 'wxim_desk_sla_exhausted_total',
      help: 'Messages unanswered past FIRST_RESPONSE_SLA_S whose conversation every other agent has had before: it stays with its agent, moved no more for that message (logged at warn)',
      registers,
    }),
    deliveryMarks: new Counter({
      name: 'wxim_pusher_delivery_marks_total',
      help: "Marks on agents' replies in IM (DELIVERY_MARKS) by state (queued, delivered, not_delivered) and outcome (marked; failed: IM refused or could not be reached, logged; left_alone: the client's CloudCustomData is not a JSON object, or not known; lock_lost; repeated: a job run again, already marked so; superseded: replaced by a later state before it was written; dropped: over the 10,000 final marks a process holds waiting, or the process stopped first)",
      labelNames: ['state', 'outcome'],
      registers,
    }),
    windowWarnings: new Counter({
      name: 'wxim_pusher_window_warnings_total',
      help: 'Closing-window warnings to agents (WINDOW_WARNING_MS) by outcome (warned; refused: IM refused it for good, e.g. a deleted account, and it is not tried again; failed: tried again at the next check)',
      labelNames: ['outcome'],
      registers,
    }),
    checks: new Counter({
      name: 'wxim_pusher_checks_total',
      help: "The fleet's periodic checks this instance ran (one instance at a time), by check (first_response: FIRST_RESPONSE_SLA_S; window_warning: WINDOW_WARNING_MS) and outcome (done; failed: stopped by an error, logged, the next one looks again)",
      labelNames: ['check', 'outcome'],
      registers,
    }),
    replyOrder: new Counter({
      name: 'wxim_pusher_reply_order_total',
      help: "The agent's messages a later reply of theirs found out of order: moved (stored behind it, put ahead of it) or gave_up (not stored within 3 s, their callbacks lost: the reply went first, they follow when the sweep finds them); one whose late callback took the place kept for it counts as neither",
      labelNames: ['outcome'],
      registers,
    }),
    retries: new Counter({ name: 'wxim_pusher_retries_total', help: 'Replies that will be tried again, by error class', labelNames: ['class'], registers }),
    wechatCalls: new Counter({
      name: 'wxim_wechat_calls_total',
      help: 'WeChat API calls by API and outcome (ok, an errcode, network, http_<status>)',
      labelNames: ['api', 'outcome'],
      registers,
    }),
    wechatCallSeconds: new Histogram({
      name: 'wxim_wechat_call_seconds',
      help: 'WeChat API call duration',
      labelNames: ['api'],
      buckets: callBuckets,
      registers,
    }),
    tokenFetches: new Counter({
      name: 'wxim_wechat_token_fetches_total',
      help: 'access_token fetches from WeChat by API and outcome',
      labelNames: ['api', 'outcome'],
      registers,
    }),
    imCalls: new Counter({
      name: 'wxim_pusher_im_calls_total',
      help: 'IM REST calls (notices, and history look-ups confirming replies) by command and outcome',
      labelNames: ['command', 'outcome'],
      registers,
    }),
    imCallSeconds: new Histogram({
      name: 'wxim_pusher_im_call_seconds',
      help: 'IM REST call duration',
      labelNames: ['command'],
      buckets: callBuckets,
      registers,
    }),
    signals: new Counter({
      name: 'wxim_pusher_signals_total',
      help: "Agents' signals by kind (typing, typing-stop, recall) and outcome (typing: shown, cancelled, or skipped as not_shown, window, already_shown, no_room, refused, error; recall: stopped, too_late, unknown, finished, carried_out; failed: the queue failed the signal's job)",
      labelNames: ['signal', 'outcome'],
      registers,
    }),
    inFlight: new Gauge({ name: 'wxim_pusher_jobs_in_flight', help: 'Replies this worker is delivering now', registers }),
  };
}

/**
 * `wxim_wechat_quota_used_up{api}`: 1 for each WeChat API whose daily quota WeChat said is used up
 * (45009), from that answer until a call of it succeeds, WeChat's day ends, or nothing has tried it
 * again for a look again after its hold (see DailyQuotas.usedUpNow).
 */
export function watchQuotas(registry: Registry, usedUp: () => string[]): Gauge<'api'> {
  return new Gauge({
    name: 'wxim_wechat_quota_used_up',
    help: "WeChat APIs over their daily quota (45009), 1 each, until a call succeeds, the day ends, or nothing tried again for 5 minutes after the hold: their calls wait (a reply for its customer; other customers' lines go on) until the quota may be back",
    labelNames: ['api'],
    registers: [registry],
    collect() {
      this.reset();
      for (const api of usedUp()) this.set({ api }, 1);
    },
  });
}
