import { Counter, type Registry } from 'prom-client';

/**
 * What the front of several accounts did with a request: handed it to one account (`routed`) or
 * to every account sharing an IM app (`fanned_out`), whose services answer and count it; or
 * answered it itself: `malformed_path` (400), `unknown_account` (404: the path names no account of
 * the file, or names none and there is no `default`), `too_large` (413: a fanned-out body over
 * 64 KB), `failed` (500: a fanned-out request it could not read whole or hand on).
 */
export type FrontOutcome = 'routed' | 'fanned_out' | 'malformed_path' | 'unknown_account' | 'too_large' | 'failed';

const OUTCOMES: readonly FrontOutcome[] = ['routed', 'fanned_out', 'malformed_path', 'unknown_account', 'too_large', 'failed'];

/**
 * `wxim_front_requests_total{service,outcome}` in `registry`: the front's own count, beside the
 * accounts' (it is the process's, so it carries no `account` label). Health paths are not counted.
 */
export function frontRequests(registry: Registry, service: string): (outcome: FrontOutcome) => void {
  const counter = new Counter({
    name: 'wxim_front_requests_total',
    help: 'Requests the front of several Official Accounts took (ACCOUNTS_FILE), by outcome: routed or fanned_out to the accounts, or answered by the front itself (malformed_path, unknown_account, too_large, failed)',
    labelNames: ['service', 'outcome'],
    registers: [registry],
  });
  // Every series from the start at 0: an alert on increase() sees the first refusal.
  for (const outcome of OUTCOMES) counter.inc({ service, outcome }, 0);
  return (outcome) => counter.inc({ service, outcome });
}
