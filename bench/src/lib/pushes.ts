import { SANDBOX, WechatPlatform } from '@wxim/sandbox';
import { type LoadRequest, runLoad } from './load.js';
import { waitForMessages } from './relay-stack.js';

/** Concurrency of every run of the relay benchmark, relay and demo alike. */
export const CONCURRENCY = 32;

/** Safe-mode text pushes from the customers in turn, signed; each push's MsgId in request order. */
export function signedPushes(url: string, customers: readonly string[], count: number): { requests: LoadRequest[]; msgIds: string[] } {
  const wx = new WechatPlatform({ gatewayUrl: url, token: SANDBOX.token, appId: SANDBOX.appId, encodingAesKey: SANDBOX.encodingAesKey, mode: 'safe' });
  const msgIds: string[] = [];
  const requests = Array.from({ length: count }, (_, i) => {
    const msg = wx.text(customers[i % customers.length]!, `message ${i} 你好 🙂`);
    msgIds.push(msg.kind === 'text' ? msg.msgId : '');
    return wx.sign(msg);
  });
  return { requests, msgIds };
}

/**
 * Warms up the processes (JIT, connections) outside the measurement, from the run's customers:
 * each is imported on first sight here, and the run measures known customers. At IM's pace the
 * warm-up is 10 s at 150/s: a process at this rate takes that long to settle (JIT). Resolves with
 * how many of its messages reached IM, once they have.
 */
export async function warmUp(url: string, simUrl: string, customers: readonly string[], imLimit: 'real' | 'lifted'): Promise<number> {
  const pushes = imLimit === 'real' ? 1500 : 2000;
  const load = await runLoad(url, signedPushes(url, customers, pushes).requests, CONCURRENCY, imLimit === 'real' ? 150 : 1000);
  await waitForMessages(simUrl, load.ok, 120_000);
  return load.ok;
}

/** What reached the IM simulator of a run's pushes, from its receipts ([from, receivedAt, MsgId]). */
export interface Arrivals {
  /** Push sent (or due) → IM accepted it, ms, ascending; one per push that arrived. */
  e2e: number[];
  /** Arrivals per MsgId. */
  seen: Map<string, number>;
  /** When the first and the last of them arrived, ms since the epoch. */
  first: number;
  last: number;
}

export function arrivalsOf(receipts: [string, number, string | null][], msgIds: readonly string[], startedAt: Float64Array): Arrivals {
  const index = new Map(msgIds.map((id, i) => [id, i]));
  const seen = new Map<string, number>();
  const e2e: number[] = [];
  let first = Infinity;
  let last = 0;
  for (const [, receivedAt, msgId] of receipts) {
    if (msgId === null || !index.has(msgId)) continue;
    const count = (seen.get(msgId) ?? 0) + 1;
    seen.set(msgId, count);
    if (count === 1) e2e.push(receivedAt - startedAt[index.get(msgId)!]!);
    first = Math.min(first, receivedAt);
    last = Math.max(last, receivedAt);
  }
  e2e.sort((a, b) => a - b);
  return { e2e, seen, first, last };
}
