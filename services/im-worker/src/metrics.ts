import { type MessageKind, RATING_SCORES } from '@wxim/wechat';
import { metricsRegistry } from '@wxim/host';
import { IM_COMMANDS, IM_RATE_LIMIT_CODES } from '@wxim/im';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ImWorkerMetrics {
  registry: Registry;
  relayed: Counter<'kind' | 'outcome'>;
  latency: Histogram<'kind'>;
  retries: Counter<'class'>;
  handedOnRetries: Counter;
  imCalls: Counter<'command' | 'outcome'>;
  imCallSeconds: Histogram<'command'>;
  parked: Counter;
  waitingForAgent: Counter;
  inFlight: Gauge;
  csatAnswers: Counter<'score'>;
  windowsUnwatched: Counter;
  firstTurns: Counter<'outcome'>;
  mediaNotes: Counter<'kind' | 'reason'>;
  wechatCalls: Counter<'api' | 'outcome'>;
  wechatCallSeconds: Histogram<'api'>;
}

/** Every kind of push, checked against MessageKind: each one's failed count is exported from the start. */
const KINDS: Record<MessageKind, true> = {
  text: true,
  rating: true,
  image: true,
  voice: true,
  video: true,
  shortvideo: true,
  location: true,
  link: true,
  subscribe: true,
  unsubscribe: true,
  scan: true,
  location_event: true,
  click: true,
  scancode: true,
  view: true,
  report: true,
  unknown: true,
};

export function createImWorkerMetrics(options: { processMetrics?: boolean } = {}): ImWorkerMetrics {
  const metrics = buildMetrics(options);
  // A counter's first sample is its baseline: a series born at 1 shows no increase, and a pod's
  // first failure would page nobody (WximInboundRelaysFailed). So the failed series start at 0.
  for (const kind of Object.keys(KINDS)) metrics.relayed.inc({ kind, outcome: 'failed' }, 0);
  for (const score of RATING_SCORES) metrics.csatAnswers.inc({ score: String(score) }, 0);
  for (const outcome of ['used', 'reserved', 'unused']) metrics.firstTurns.inc({ outcome }, 0);
  // WximImMediaNotes watches these: a series born at 1 would hide its first note from increase().
  for (const kind of ['voice', 'video', 'shortvideo']) for (const reason of ['configuration', 'no_ffmpeg']) metrics.mediaNotes.inc({ kind, reason }, 0);
  // And these (WximImCredentials, WximImRateLimited): one credential retry or one 60007 is worth a look.
  for (const decision of ['credential', 'configuration']) metrics.retries.inc({ class: decision }, 0);
  for (const command of IM_COMMANDS) for (const outcome of IM_RATE_LIMIT_CODES) metrics.imCalls.inc({ command, outcome }, 0);
  return metrics;
}

function buildMetrics(options: { processMetrics?: boolean }): ImWorkerMetrics {
  const registry = metricsRegistry(options);
  const registers = [registry];
  return {
    registry,
    relayed: new Counter({
      name: 'wxim_im_relayed_total',
      help: 'WeChat pushes handled, by type and outcome (relayed, skipped, failed)',
      labelNames: ['kind', 'outcome'],
      registers,
    }),
    latency: new Histogram({
      name: 'wxim_im_relay_seconds',
      help: 'From the gateway storing a push (or, for one that waited for an agent, its conversation being given one) to IM accepting it',
      labelNames: ['kind'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    retries: new Counter({ name: 'wxim_im_retries_total', help: 'Relays that will be tried again, by error class', labelNames: ['class'], registers }),
    handedOnRetries: new Counter({
      name: 'wxim_im_handed_on_retries_total',
      help: 'Messages relayed by a retry to another agent than an earlier attempt sent to (the customer was handed on between them): the first agent may hold the message too',
      registers,
    }),
    imCalls: new Counter({
      name: 'wxim_im_calls_total',
      help: 'IM REST calls by command and outcome (ok, an IM ErrorCode, http_5xx, network)',
      labelNames: ['command', 'outcome'],
      registers,
    }),
    imCallSeconds: new Histogram({
      name: 'wxim_im_call_seconds',
      help: 'IM REST call duration',
      labelNames: ['command'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    parked: new Counter({
      name: 'wxim_im_waiting_turn_total',
      help: 'Jobs set aside because an earlier message of the same customer is still in flight',
      registers,
    }),
    waitingForAgent: new Counter({
      name: 'wxim_im_waiting_for_agent_total',
      help: "Looks of a customer's message for an agent that found none with room: the conversation waits (each look, every 30 s while it does)",
      registers,
    }),
    windowsUnwatched: new Counter({
      name: 'wxim_im_window_watch_dropped_total',
      help: 'Open reply windows no longer watched for a closing warning (WINDOW_WARNING_MS) because the watch was full (200,000): those closing last',
      registers,
    }),
    firstTurns: new Counter({
      name: 'wxim_im_first_turns_total',
      help: "Sends whose turn under IM's pace came with their job's turn: used (at once), reserved (the pace had no room: the send waited for the slot its job's turn reserved and asked once more), or unused (the send came too late, e.g. a slow or paused worker, or another call came first, and asked again: one slot of IM's budget spent for nothing)",
      labelNames: ['outcome'],
      registers,
    }),
    inFlight: new Gauge({ name: 'wxim_im_jobs_in_flight', help: 'Jobs this worker is processing now', registers }),
    csatAnswers: new Counter({
      name: 'wxim_desk_csat_answers_total',
      help: "Customers' answers to the rating question after /close, by score (1 to 5); each close counts once",
      labelNames: ['score'],
      registers,
    }),
    wechatCalls: new Counter({
      name: 'wxim_im_wechat_calls_total',
      help: "WeChat API calls of the im-worker (media/get: a customer's voice, image or video) by outcome (ok, WeChat's errcode, network, deadline: cut off at the whole download's deadline, too_large, http_<status>, bad_json)",
      labelNames: ['api', 'outcome'],
      registers,
    }),
    wechatCallSeconds: new Histogram({
      name: 'wxim_im_wechat_call_seconds',
      help: 'WeChat API call duration in the im-worker, to the last byte of a download',
      labelNames: ['api'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    mediaNotes: new Counter({
      name: 'wxim_im_media_notes_total',
      help: "Customers' voice and video that reached the agent as a text note instead, by type and reason (expired, refused, unconvertible, no_ffmpeg, rate_limited, configuration, unavailable)",
      labelNames: ['kind', 'reason'],
      registers,
    }),
  };
}
