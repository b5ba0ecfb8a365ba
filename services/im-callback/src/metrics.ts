import { metricsRegistry } from '@wxim/runtime';
import { Counter, Histogram, type Registry } from 'prom-client';

export type CallbackOutcome = 'stored' | 'ignored' | 'state' | 'refused' | 'bad_request' | 'unavailable';

export interface CallbackMetrics {
  registry: Registry;
  callbacks: Counter<'command' | 'outcome'>;
  answer: Histogram<'outcome'>;
  recovered: Counter;
  imCalls: Counter<'command' | 'outcome'>;
  imCallSeconds: Histogram<'command'>;
}

export function createCallbackMetrics(options: { processMetrics?: boolean } = {}): CallbackMetrics {
  const registry = metricsRegistry(options);
  const registers = [registry];
  return {
    registry,
    callbacks: new Counter({
      name: 'wxim_callback_requests_total',
      help: 'IM callbacks by command and outcome (stored, ignored, state, refused, bad_request, unavailable)',
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
    recovered: new Counter({
      name: 'wxim_callback_recovered_total',
      help: "Agent replies found in IM's history after callbacks may have been missed, and stored (or found stored already)",
      registers,
    }),
    imCalls: new Counter({
      name: 'wxim_callback_im_calls_total',
      help: 'IM REST calls of the missed-callback recovery (history look-ups) by command and outcome',
      labelNames: ['command', 'outcome'],
      registers,
    }),
    imCallSeconds: new Histogram({
      name: 'wxim_callback_im_call_seconds',
      help: 'IM REST call duration (recovery)',
      labelNames: ['command'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
  };
}
