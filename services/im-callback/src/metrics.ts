import { metricsRegistry } from '@wxim/host';
import { AFTER_MSG_WITHDRAW, AFTER_SEND_MSG, STATE_CHANGE } from '@wxim/im';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { StoreRetried } from './reply-store.js';

/** `signal`: an agent's typing or recall, stored; `online_only`: another online-only message, never delivered. */
export type CallbackOutcome = 'stored' | 'signal' | 'online_only' | 'ignored' | 'state' | 'refused' | 'bad_request' | 'unavailable';

/** The commands the relay handles, each its own series; `unknown` when the query was refused before it was read. */
const COUNTED_COMMANDS: ReadonlySet<string> = new Set([AFTER_SEND_MSG, AFTER_MSG_WITHDRAW, STATE_CHANGE, 'unknown']);

/**
 * A callback's command as counted: any other is `other`. IM's signature does not cover the
 * command, so whoever holds a captured callback URL could otherwise add a series with each request.
 */
export function countedCommand(command: string): string {
  return COUNTED_COMMANDS.has(command) ? command : 'other';
}

export interface CallbackMetrics {
  registry: Registry;
  callbacks: Counter<'command' | 'outcome'>;
  answer: Histogram<'outcome'>;
  recovered: Counter<'via'>;
  sweeps: Counter<'outcome'>;
  sweepSeconds: Histogram;
  imCalls: Counter<'command' | 'outcome'>;
  imCallSeconds: Histogram<'command'>;
  storeRetries: Counter<'what'>;
}

/** The fleet's recovery as Redis holds it, read when Prometheus scrapes: any instance may have swept or looked through a gap. */
export interface RecoveryView {
  sweepPeriodMs: number;
  /** The sweep's state; `readAt` on Redis's clock, as the cursor is. */
  sweep(): Promise<{ cursor?: number; lastSuccessAt?: number; conversations?: number; owedFrom?: number; readAt: number }>;
  /** The gaps waiting to be looked through, and when the oldest began (ms). */
  gaps(): Promise<{ waiting: number; oldestFrom?: number }>;
}

export function createCallbackMetrics(options: { processMetrics?: boolean; recovery?: RecoveryView } = {}): CallbackMetrics {
  const registry = metricsRegistry(options);
  const registers = [registry];
  if (options.recovery !== undefined) registerRecoveryGauges(registry, options.recovery);
  const metrics: CallbackMetrics = {
    registry,
    callbacks: new Counter({
      name: 'wxim_callback_requests_total',
      help: "IM callbacks by command (the three the relay handles; other) and outcome (stored; signal: an agent's typing or recall, stored; online_only: another online-only message, not delivered; ignored, state, refused, bad_request, unavailable)",
      labelNames: ['command', 'outcome'],
      registers,
    }),
    answer: new Histogram({
      name: 'wxim_callback_answer_seconds',
      help: 'Time from a callback arriving to the answer to IM, by outcome',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
      registers,
    }),
    storeRetries: new Counter({
      name: 'wxim_callback_store_retries_total',
      help: "Tries again of a store because Redis was away (restarting, failing over, cut off), every 100 ms within IM's 1.5 s, by what it was for: reply (an agent's reply) or signal (their typing or recall); IM is answered once a try succeeds",
      labelNames: ['what'],
      registers,
    }),
    recovered: new Counter({
      name: 'wxim_callback_recovered_total',
      help: "Agent replies whose callbacks never reached the relay, found in IM's history and stored: after a gap (via=gap) or by the periodic sweep (via=sweep)",
      labelNames: ['via'],
      registers,
    }),
    sweeps: new Counter({
      name: 'wxim_callback_sweeps_total',
      help: "Sweeps of IM's history run by this instance, by outcome (ok, failed)",
      labelNames: ['outcome'],
      registers,
    }),
    sweepSeconds: new Histogram({
      name: 'wxim_callback_sweep_duration_seconds',
      help: 'How long each sweep this instance ran took',
      buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800],
      registers,
    }),
    imCalls: new Counter({
      name: 'wxim_callback_im_calls_total',
      help: "IM REST calls of the missed-callback recovery and sweep (history look-ups) and of the look at the agents' states, by command and outcome",
      labelNames: ['command', 'outcome'],
      registers,
    }),
    imCallSeconds: new Histogram({
      name: 'wxim_callback_im_call_seconds',
      help: 'IM REST call duration (recovery and sweep)',
      labelNames: ['command'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
  };
  // Every series from the start at 0: an alert on increase() sees the first recovered reply or failed sweep.
  for (const via of ['gap', 'sweep']) metrics.recovered.inc({ via }, 0);
  for (const outcome of ['ok', 'failed']) metrics.sweeps.inc({ outcome }, 0);
  for (const what of ['reply', 'signal'] satisfies StoreRetried[]) metrics.storeRetries.inc({ what }, 0);
  return metrics;
}

/** The fleet's sweep and gaps from Redis. A gauge Redis could not be read for keeps its last value. */
function registerRecoveryGauges(registry: Registry, view: RecoveryView): void {
  const sweep = () => view.sweep().catch(() => undefined);
  const gaps = () => view.gaps().catch(() => undefined);
  const registers = [registry];
  new Gauge({
    name: 'wxim_callback_sweep_period_seconds',
    help: 'CALLBACK_SWEEP_MS in seconds (0: sweeps are off)',
    registers,
    collect() {
      this.set(view.sweepPeriodMs / 1000);
    },
  });
  new Gauge({
    name: 'wxim_callback_sweep_last_success_timestamp_seconds',
    help: "When the fleet's last sweep succeeded (Unix seconds; 0 before the first)",
    registers,
    async collect() {
      const s = await sweep();
      if (s !== undefined) this.set((s.lastSuccessAt ?? 0) / 1000);
    },
  });
  new Gauge({
    name: 'wxim_callback_sweep_lag_seconds',
    help: "How far behind now the fleet's sweeps have looked through IM's history, looks owed to conversations IM failed for included (grows when sweeps fail or take longer than their period)",
    registers,
    async collect() {
      const s = await sweep();
      // Looks owed to conversations IM failed for count as not looked through yet.
      if (s?.cursor !== undefined) this.set(Math.max(0, (s.readAt - Math.min(s.cursor, s.owedFrom ?? s.cursor)) / 1000));
    },
  });
  new Gauge({
    name: 'wxim_callback_sweep_conversations',
    help: "Conversations the fleet's last sweep looked through",
    registers,
    async collect() {
      const s = await sweep();
      if (s !== undefined) this.set(s.conversations ?? 0);
    },
  });
  new Gauge({
    name: 'wxim_callback_gaps_waiting',
    help: "Time ranges in which callbacks may have been missed, not yet looked through in IM's history",
    registers,
    async collect() {
      const g = await gaps();
      if (g !== undefined) this.set(g.waiting);
    },
  });
  new Gauge({
    name: 'wxim_callback_gap_oldest_seconds',
    help: 'How long ago the oldest gap waiting to be looked through began (0 when none waits)',
    registers,
    async collect() {
      const g = await gaps();
      if (g !== undefined) this.set(g.oldestFrom === undefined ? 0 : Math.max(0, (Date.now() - g.oldestFrom) / 1000));
    },
  });
}
