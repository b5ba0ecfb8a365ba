import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '@wxim/config';
import { ImClient, UserSigCache } from '@wxim/im';
import { ReplyWindow, stateKeys } from '@wxim/state';
import { type CallbackRecord, type DeliveredMessage, SANDBOX, fakeOpenId, sandboxEnv } from '@wxim/sandbox';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { percentile } from './lib/load.js';
import { APPENDFSYNC, type Proc, freePort, startImSimulator, startNode, startRedis, startWechatApiSimulator } from './lib/processes.js';
import { getJson } from './lib/relay-stack.js';

/**
 * The reverse direction: agents' replies. Redis, the IM simulator (IM's real limits, calling
 * im-callback back as IM does, signed), the WeChat API simulator (window and quota rules on),
 * im-callback and wechat-pusher, each its own process, in the default configuration. Customers
 * have written (their windows open, as the im-worker records them); agents answer through the IM
 * simulator, at a steady 100/s and as fast as im-callback answers (32 at a time). Callback answer
 * = as the IM simulator timed im-callback's answer; end-to-end = callback sent → custom/send received.
 */
const SCALE = Number(process.env['BENCH_SCALE'] ?? 1);
const entry = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const PREFIX = 'wximbench';

interface Scenario {
  name: string;
  replies: number;
  /** Replies per second (open loop); undefined: 32 at a time, each as soon as the last was answered. */
  rate?: number;
  /** All sent at once, each on its own connection (a crowd of agents answering in the same instant). */
  burst?: boolean;
}

interface Row {
  name: string;
  replies: number;
  perSecond: number;
  /** Replies WeChat received per second, from the run's first to its last. */
  deliveredPerSecond: number;
  answerP50: number;
  answerP99: number;
  e2eP50: number;
  e2eP99: number;
  lost: number;
  /** Callbacks IM did not have an OK answer to within its 2 s budget (the reply may still have been stored). */
  late: number;
  doubled: number;
  tokenFetches: number;
  /** Replies IM's messages were marked (modify_c2c_msg) in the run, warm-up included: DELIVERY_MARKS. */
  marks: number;
  cpu: Record<string, number>;
}

async function stack() {
  const redis = await startRedis();
  const [imPort, wxPort, callbackPort, pusherPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const imUrl = `http://127.0.0.1:${imPort}`;
  const wxUrl = `http://127.0.0.1:${wxPort}`;
  const im = await startImSimulator(imPort, { SIM_CALLBACK_URL: `http://127.0.0.1:${callbackPort}/im/callback`, SIM_CALLBACK_TOKEN: SANDBOX.imCallbackToken });
  const wx = await startWechatApiSimulator(wxPort);
  const env = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: PREFIX,
    ...sandboxEnv(imUrl, wxUrl),
    CALLBACK_PORT: String(callbackPort),
    PUSHER_PORT: String(pusherPort),
  };
  const callback = await startNode('im-callback', entry('../../services/im-callback/dist/main.js'), env, `http://127.0.0.1:${callbackPort}/readyz`);
  const pusher = await startNode('wechat-pusher', entry('../../services/wechat-pusher/dist/main.js'), env, `http://127.0.0.1:${pusherPort}/readyz`);
  return { redis, procs: [redis, im, wx, callback, pusher] as Proc[], imUrl, wxUrl, env };
}

/** Customers who wrote a moment ago, as the gateway and im-worker leave them: IM accounts, identities, open windows. */
async function customers(s: Awaited<ReturnType<typeof stack>>, count: number) {
  const config = loadConfig(s.env);
  const im = new ImClient({
    sdkAppId: SANDBOX.imSdkAppId,
    admin: SANDBOX.imAdmin,
    userSig: new UserSigCache(SANDBOX.imSdkAppId, SANDBOX.imSecretKey, SANDBOX.imAdmin),
    apiBase: s.imUrl,
  });
  const redis = new Redis(s.redis.url);
  const keys = stateKeys(config.queuePrefix);
  const window = new ReplyWindow(redis, keys);
  const list = Array.from({ length: count }, (_, i) => ({ openid: fakeOpenId(), agent: SANDBOX.imAgents[i % SANDBOX.imAgents.length]! }));
  for (const c of list) {
    await im.importAccount(c.openid);
    await redis.hset(keys.openidOf, c.openid, c.openid);
    await redis.hset(keys.customer(c.openid), 'userId', c.openid, 'imported', '1', 'agent', c.agent);
    await window.record(c.openid, 'message', Date.now());
    await getJson(`${s.wxUrl}/sim/customer-acted`, 'POST', { openid: c.openid, kind: 'message' });
    await sleep(6); // IM's account_import limit (200/s)
  }
  await im.close();
  redis.disconnect();
  return list;
}

async function run(sc: Scenario): Promise<Row> {
  const s = await stack();
  try {
    // Three replies per customer: within WeChat's five per customer message.
    const list = await customers(s, Math.ceil(sc.replies / 3) + 50);
    const pool = new Pool(s.imUrl, { connections: sc.burst === true ? sc.replies : 64 });
    const send = async (i: number) => {
      const c = list[i % list.length]!;
      const res = await pool.request({
        method: 'POST',
        path: '/sim/agent-send',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          From_Account: c.agent,
          To_Account: c.openid,
          MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `reply ${i} 好的 🙂` } }],
        }),
      });
      await res.body.dump();
    };
    // Warm-up outside the measurement (JIT, connections, the one token fetch).
    const warm = 200;
    for (let i = 0; i < warm; i++) await send(sc.replies + i);
    await waitForSent(s.wxUrl, warm, 60_000);
    const cpu0 = s.procs.map((p) => p.cpuSeconds());
    const started = Date.now();
    if (sc.burst === true) {
      await Promise.all(Array.from({ length: sc.replies }, (_, i) => send(i)));
    } else if (sc.rate === undefined) {
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < sc.replies) await send(next++);
        }),
      );
    } else {
      const pending: Promise<void>[] = [];
      for (let i = 0; i < sc.replies; i++) {
        const due = started + (i * 1000) / sc.rate;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        pending.push(send(i));
      }
      await Promise.all(pending);
    }
    const answeredIn = (Date.now() - started) / 1000;
    const sent = await waitForSent(s.wxUrl, warm + sc.replies, 120_000);
    const cpu = Object.fromEntries(s.procs.map((p, i) => [p.name, ((p.cpuSeconds() - cpu0[i]!) * 1e6) / sc.replies]));
    const callbacks = (await getJson<CallbackRecord[]>(`${s.imUrl}/sim/callbacks`)).filter((c) => c.at >= started);
    const textOf = (payload: unknown) => String(((payload as { MsgBody?: { MsgContent: { Text?: string } }[] }).MsgBody ?? [])[0]?.MsgContent.Text);
    const sentAt = new Map(callbacks.map((c) => [textOf(c.payload), c.at]));
    const received = new Map<string, number[]>();
    for (const m of sent) {
      const text = String(m.payload['content']);
      received.set(text, [...(received.get(text) ?? []), m.receivedAt]);
    }
    const runSent = sent.filter((m) => sentAt.has(String(m.payload['content']))).map((m) => m.receivedAt);
    const deliveredPerSecond = runSent.length / Math.max(0.001, (Math.max(...runSent) - started) / 1000);
    const e2e: number[] = [];
    let lost = 0;
    let doubled = 0;
    for (const [text, at] of sentAt) {
      const got = received.get(text);
      if (got === undefined) lost++;
      else {
        if (got.length > 1) doubled++;
        e2e.push(got[0]! - at);
      }
    }
    const answers = callbacks.map((c) => c.ms).sort((a, b) => a - b);
    e2e.sort((a, b) => a - b);
    const stats = await getJson<{ tokenFetches: { token: number; stable: number; forced: number } }>(`${s.wxUrl}/sim/stats`);
    const imStats = await getJson<{ modified?: number }>(`${s.imUrl}/sim/stats`);
    await pool.close();
    return {
      name: sc.name,
      replies: sc.replies,
      perSecond: sc.replies / answeredIn,
      deliveredPerSecond,
      answerP50: percentile(answers, 50),
      answerP99: percentile(answers, 99),
      e2eP50: percentile(e2e, 50),
      e2eP99: percentile(e2e, 99),
      lost: lost + Math.max(0, sc.replies - callbacks.length),
      late: callbacks.filter((c) => !c.delivered).length,
      doubled,
      tokenFetches: stats.tokenFetches.token + stats.tokenFetches.stable + stats.tokenFetches.forced,
      marks: imStats.modified ?? 0,
      cpu,
    };
  } finally {
    for (const p of [...s.procs].reverse()) await p.stop();
  }
}

async function waitForSent(wxUrl: string, count: number, timeoutMs: number): Promise<DeliveredMessage[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sent = await getJson<DeliveredMessage[]>(`${wxUrl}/sim/sent`);
    if (sent.length >= count) return sent;
    if (Date.now() > deadline) throw new Error(`only ${sent.length} of ${count} replies reached the WeChat API simulator`);
    await sleep(100);
  }
}

const f = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '—');
const scenarios: Scenario[] = [
  { name: 'steady 100/s', replies: Math.round(3000 * SCALE), rate: 100 },
  { name: 'as fast as im-callback answers (32 at a time)', replies: Math.round(3000 * SCALE) },
  { name: 'burst: 1000 at once', replies: 1000, burst: true },
];
const only = process.env['BENCH_ONLY'];
const rows: Row[] = [];
for (const sc of scenarios.filter((x) => only === undefined || x.name.includes(only))) rows.push(await run(sc));
if (rows.length === 0) throw new Error(`BENCH_ONLY=${only} names no run: ${scenarios.map((x) => x.name).join(', ')}`);
const lines = [
  `Agent replies, IM and WeChat simulators with their real limits, default configuration, appendfsync ${APPENDFSYNC}, DELIVERY_MARKS=${process.env['DELIVERY_MARKS'] || 'on'}; every process on this host.`,
  '',
  '| run | replies | callbacks answered/s | delivered/s | callback answer p50 / p99 ms | end-to-end p50 / p99 ms | lost | callbacks not OK within 2 s | doubled | token fetches | marks |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.name} | ${r.replies} | ${f(r.perSecond)} | ${f(r.deliveredPerSecond)} | ${f(r.answerP50)} / ${f(r.answerP99)} | ${f(r.e2eP50)} / ${f(r.e2eP99)} | ${r.lost} | ${r.late} | ${r.doubled} | ${r.tokenFetches} | ${r.marks} |`,
  ),
  '',
  `| run | CPU µs per reply: ${Object.keys(rows[0]!.cpu).join(', ')} |`,
  '|---|---|',
  ...rows.map((r) => `| ${r.name} | ${Object.values(r.cpu).map(f).join(' · ')} |`),
];
process.stdout.write(`${lines.join('\n')}\n`);
