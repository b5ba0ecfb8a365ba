import { fileURLToPath } from 'node:url';
import { fakeOpenId, sandboxEnv } from '@wxim/sandbox';
import { percentile, runLoad } from './load.js';
import { type Proc, freePort, startImSimulator, startNode } from './processes.js';
import { CONCURRENCY, arrivalsOf, signedPushes, warmUp } from './pushes.js';
import { getJson, waitForMessages } from './relay-stack.js';

/** One side of a comparison of the relay with the seed's demo: a run's figures. */
export interface Side {
  pushes: number;
  /** Pushes answered 200, and every other answer (or none). */
  ok: number;
  nonSuccess: number;
  /** From the first push sent to the last answered. */
  seconds: number;
  ackP50: number;
  ackP99: number;
  e2eP50: number;
  e2eP99: number;
  /** The run's pushes that reached IM, at least once. */
  relayed: number;
  duplicated: number;
  /** Calls IM answered 60007 (over its frequency limit), warm-up included. */
  rateLimited: number;
  /** CPU µs per message that reached IM, by process, from the first push until the last message reached IM. */
  cpu: Record<string, number>;
}

export interface DemoScenario {
  pushes: number;
  customers: number;
  imLimit: 'real' | 'lifted';
  /** Pushes per second (open loop); undefined: as fast as the demo answers. */
  rate?: number;
}

/**
 * The seed's demo (demo-relay.ts) and the IM simulator, each its own process, driven as the relay
 * is: the same warm-up, pushes, customers, concurrency and rate, from the same generator.
 */
export async function runDemo(s: DemoScenario): Promise<Side> {
  const [simPort, demoPort] = [await freePort(), await freePort()];
  const simUrl = `http://127.0.0.1:${simPort}`;
  const url = `http://127.0.0.1:${demoPort}`;
  const procs: Proc[] = [await startImSimulator(simPort, s.imLimit === 'lifted' ? { SIM_RATE_LIMIT: 'off' } : {})];
  try {
    const entry = fileURLToPath(new URL('../demo-relay.js', import.meta.url));
    procs.push(await startNode('demo', entry, { ...sandboxEnv(simUrl), DEMO_PORT: String(demoPort) }, `${url}/healthz`));
    const customers = Array.from({ length: s.customers }, fakeOpenId);
    const warmed = await warmUp(url, simUrl, customers, s.imLimit);
    const { requests, msgIds } = signedPushes(url, customers, s.pushes);
    const cpu0 = procs.map((p) => p.cpuSeconds());
    const gen0 = process.cpuUsage();
    const load = await runLoad(url, requests, CONCURRENCY, s.rate);
    await waitForMessages(simUrl, warmed + load.ok, 60_000); // answered 200 = already in IM; a check
    const gen = process.cpuUsage(gen0);
    const arrivals = arrivalsOf(await getJson(`${simUrl}/sim/receipts`), msgIds, load.startedAt);
    const relayed = arrivals.seen.size;
    const cpu = Object.fromEntries(procs.map((p, i) => [p.name, ((p.cpuSeconds() - cpu0[i]!) * 1e6) / relayed]));
    cpu['load generator'] = (gen.user + gen.system) / relayed;
    return {
      pushes: s.pushes,
      ok: load.ok,
      nonSuccess: load.failed,
      seconds: load.seconds,
      ackP50: load.p50,
      ackP99: load.p99,
      e2eP50: percentile(arrivals.e2e, 50),
      e2eP99: percentile(arrivals.e2e, 99),
      relayed,
      duplicated: [...arrivals.seen.values()].reduce((a, c) => a + c - 1, 0),
      rateLimited: (await getJson<{ rateLimited: number }>(`${simUrl}/sim/stats`)).rateLimited,
      cpu,
    };
  } finally {
    for (const p of procs.slice().reverse()) await p.stop();
  }
}
