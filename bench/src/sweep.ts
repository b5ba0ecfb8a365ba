import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '@wxim/config';
import { ImClient, UserSigCache } from '@wxim/im';
import { createImCallback } from '@wxim/im-callback';
import { stateKeys } from '@wxim/state';
import { SANDBOX, fakeOpenId, sandboxEnv } from '@wxim/sandbox';
import { Redis } from 'ioredis';
import { type Proc, freePort, startImSimulator, startRedis } from './lib/processes.js';
import { getJson } from './lib/relay-stack.js';

/**
 * How long one sweep of IM's history takes for many active conversations, in the default
 * configuration: IM_RATE_LIMIT 180, CALLBACK_RECOVERY_PERCENT 25 (about 44 history calls a second
 * for the sweep), against the IM simulator with IM's real limits, answering at once or after a
 * round trip as from a distant region (SIM_LATENCY_MS). A few conversations hold an agent's reply
 * whose callback never came: the sweep must find each, once. BENCH_SWEEP_CONVERSATIONS (10000).
 */
const CONVERSATIONS = Number(process.env['BENCH_SWEEP_CONVERSATIONS'] ?? 10_000);
const LATENCIES = (process.env['BENCH_SWEEP_LATENCIES'] ?? '0,50').split(',').map(Number);
const MISSED = 20;

interface Row {
  latencyMs: number;
  conversations: number;
  seconds: number;
  callsPerSecond: number;
  maxInOneSecond: number;
  found: number;
  rateLimited: number;
}

async function run(latencyMs: number): Promise<Row> {
  const redisProc = await startRedis();
  const imPort = await freePort();
  const imUrl = `http://127.0.0.1:${imPort}`;
  const procs: Proc[] = [redisProc];
  try {
    procs.push(await startImSimulator(imPort, { SIM_LATENCY_MS: String(latencyMs) }));
    const env = { REDIS_URL: redisProc.url, QUEUE_PREFIX: 'wximbench', ...sandboxEnv(imUrl, 'http://127.0.0.1:1'), LOG_LEVEL: 'silent' };
    const config = loadConfig(env);
    const keys = stateKeys(config.queuePrefix);
    const redis = new Redis(redisProc.url);
    // Customers who wrote in the last minute, each with an agent (as the im-worker leaves them).
    const customers = Array.from({ length: CONVERSATIONS }, (_, i) => ({ openid: fakeOpenId(), agent: SANDBOX.imAgents[i % SANDBOX.imAgents.length]! }));
    const now = Date.now();
    for (let i = 0; i < customers.length; i += 500) {
      const batch = redis.pipeline();
      for (const c of customers.slice(i, i + 500)) {
        batch.hset(keys.openidOf, c.openid, c.openid);
        batch.hset(keys.customer(c.openid), 'userId', c.openid, 'imported', '1', 'agent', c.agent);
        batch.zadd(keys.recentCustomers, now - 60_000, c.openid);
      }
      await batch.exec();
    }
    // A few replies whose callbacks never came (no callback URL: IM keeps them, tells nobody).
    const im = new ImClient({
      sdkAppId: SANDBOX.imSdkAppId,
      admin: SANDBOX.imAdmin,
      userSig: new UserSigCache(SANDBOX.imSdkAppId, SANDBOX.imSecretKey, SANDBOX.imAdmin),
      apiBase: imUrl,
    });
    const missed = customers.filter((_, i) => i % Math.floor(CONVERSATIONS / MISSED) === 0).slice(0, MISSED);
    for (const c of missed) {
      await im.importAccount(c.openid);
      await getJson(`${imUrl}/sim/agent-send`, 'POST', {
        From_Account: c.agent,
        To_Account: c.openid,
        MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'missed' } }],
      });
    }
    await im.close();
    await sleep(1500);

    const callback = await createImCallback(config, { sweepSettleMs: 1000 });
    await callback.queue.waitUntilReady(); // im-callback's connection (it queues no command before)
    // The fleet's first look sets where sweeps start (here: seven minutes ago); the next is due.
    await callback.sweep.runIfDue(Date.now() - 7 * 60_000);
    const calls0 = (await getJson<Record<string, [number, number][]>>(`${imUrl}/sim/pace`))['openim/admin_getroammsg']?.length ?? 0;
    const started = performance.now();
    const found = await callback.sweep.runIfDue();
    const seconds = (performance.now() - started) / 1000;
    const pace = ((await getJson<Record<string, [number, number][]>>(`${imUrl}/sim/pace`))['openim/admin_getroammsg'] ?? []).slice(calls0);
    const stats = await getJson<{ rateLimited: number }>(`${imUrl}/sim/stats`);
    await callback.close();
    redis.disconnect();
    const calls = pace.reduce((n, [, c]) => n + c, 0);
    return {
      latencyMs,
      conversations: CONVERSATIONS,
      seconds,
      callsPerSecond: calls / seconds,
      maxInOneSecond: Math.max(0, ...pace.map(([, c]) => c)),
      found: found ?? -1,
      rateLimited: stats.rateLimited,
    };
  } finally {
    for (const p of [...procs].reverse()) await p.stop();
  }
}

const rows: Row[] = [];
for (const latency of LATENCIES) rows.push(await run(latency));
const f = (n: number) => n.toFixed(1);
process.stdout.write(
  [
    `One sweep of IM's history, default configuration (IM_RATE_LIMIT 180, CALLBACK_RECOVERY_PERCENT 25), IM simulator with IM's real limits; ${MISSED} replies whose callbacks never came.`,
    '',
    "| IM's answer delay | conversations | sweep s | history calls/s (mean / most in one second) | replies found | answered 60007 |",
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.latencyMs} ms | ${r.conversations} | ${f(r.seconds)} | ${f(r.callsPerSecond)} / ${r.maxInOneSecond} | ${r.found} of ${MISSED} | ${r.rateLimited} |`,
    ),
  ].join('\n') + '\n',
);
