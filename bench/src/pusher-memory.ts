import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '@wxim/config';
import { ImClient, UserSigCache } from '@wxim/im';
import { ReplyWindow, stateKeys } from '@wxim/state';
import { type DeliveredMessage, SANDBOX, fakeOpenId, sandboxEnv } from '@wxim/sandbox';
import { Redis } from 'ioredis';
import { type Proc, freePort, startImSimulator, startNode, startRedis, startWechatApiSimulator } from './lib/processes.js';
import { getJson } from './lib/relay-stack.js';

/**
 * The wechat-pusher's memory at its worst: WORKER_CONCURRENCY (32) agents' replies in flight at
 * once, each a file at WeChat's largest size for its kind (image and video 10 MB; a voice message
 * is at most 2 MB, so it never raises the peak). The pusher runs as its own process in the default
 * configuration against the IM and WeChat API simulators, with im-callback storing the replies as
 * IM calls it. A media server on loopback holds every download until all 32 have asked (so all 32
 * are fetched, held and uploaded together), then sends them at full speed. Prints the pusher's
 * peak resident set size (VmHWM) over the run, and its RSS when idle before it.
 */
const entry = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const MB = 1024 * 1024;
const IN_FLIGHT = 32;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);

/** A PNG's and an MP4's first bytes, then filler: exactly WeChat's limit for each. */
const FILES: Record<string, { type: string; bytes: Buffer }> = {
  '/image.png': { type: 'image/png', bytes: Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(10 * MB - 8, 7)]) },
  '/video.mp4': { type: 'video/mp4', bytes: Buffer.concat([Buffer.from('000000186674797069736f6d', 'hex'), Buffer.alloc(10 * MB - 12, 9)]) },
};

function mediaServer() {
  let waiting: (() => void)[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const file = FILES[new URL(req.url ?? '/', 'http://x').pathname];
    if (file === undefined) return void res.writeHead(404).end();
    inFlight++;
    mostInFlight = Math.max(mostInFlight, inFlight);
    const send = () => {
      res.writeHead(200, { 'content-type': file.type, 'content-length': file.bytes.length });
      res.end(file.bytes, () => inFlight--);
    };
    waiting.push(send);
    if (waiting.length >= IN_FLIGHT) {
      const all = waiting;
      waiting = [];
      for (const go of all) go();
    }
  });
  return {
    server,
    /** Lets whatever waits go (a round that never reached 32 at once). */
    release() {
      const all = waiting;
      waiting = [];
      for (const go of all) go();
    },
    mostInFlight: () => mostInFlight,
  };
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

async function main() {
  const media = mediaServer();
  await new Promise<void>((r) => media.server.listen(0, '127.0.0.1', r));
  const mediaOrigin = `http://127.0.0.1:${(media.server.address() as { port: number }).port}`;
  const redis = await startRedis();
  const [imPort, wxPort, callbackPort, pusherPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const imUrl = `http://127.0.0.1:${imPort}`;
  const wxUrl = `http://127.0.0.1:${wxPort}`;
  const procs: Proc[] = [redis];
  try {
    procs.push(
      await startImSimulator(imPort, { SIM_CALLBACK_URL: `http://127.0.0.1:${callbackPort}/im/callback`, SIM_CALLBACK_TOKEN: SANDBOX.imCallbackToken }),
    );
    procs.push(await startWechatApiSimulator(wxPort));
    const env = {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: 'wximbench',
      ...sandboxEnv(imUrl, wxUrl),
      CALLBACK_PORT: String(callbackPort),
      PUSHER_PORT: String(pusherPort),
      // The loopback media server, named exactly: the only way a private address is fetched.
      MEDIA_ALLOWED_HOSTS: new URL(mediaOrigin).host,
    };
    procs.push(await startNode('im-callback', entry('../../services/im-callback/dist/main.js'), env, `http://127.0.0.1:${callbackPort}/readyz`));
    const pusher = await startNode('wechat-pusher', entry('../../services/wechat-pusher/dist/main.js'), env, `http://127.0.0.1:${pusherPort}/readyz`);
    procs.push(pusher);
    const idleMb = pusher.peakRssMb();

    // Customers who wrote a moment ago (IM accounts, identities, open windows), one per reply.
    const config = loadConfig(env);
    const im = new ImClient({
      sdkAppId: SANDBOX.imSdkAppId,
      admin: SANDBOX.imAdmin,
      userSig: new UserSigCache(SANDBOX.imSdkAppId, SANDBOX.imSecretKey, SANDBOX.imAdmin),
      apiBase: imUrl,
    });
    const state = new Redis(redis.url);
    const keys = stateKeys(config.queuePrefix);
    const window = new ReplyWindow(state, keys);
    const customers = Array.from({ length: IN_FLIGHT * ROUNDS }, (_, i) => ({ openid: fakeOpenId(), agent: SANDBOX.imAgents[i % SANDBOX.imAgents.length]! }));
    for (const c of customers) {
      await im.importAccount(c.openid);
      await state.hset(keys.openidOf, c.openid, c.openid);
      await state.hset(keys.customer(c.openid), 'userId', c.openid, 'imported', '1', 'agent', c.agent);
      await window.record(c.openid, 'message', Date.now());
      await getJson(`${wxUrl}/sim/customer-acted`, 'POST', { openid: c.openid, kind: 'message' });
      await sleep(6); // IM's account_import limit (200/s)
    }
    await im.close();
    state.disconnect();

    const image = (i: number) => ({
      MsgType: 'TIMImageElem',
      MsgContent: {
        UUID: `i${i}`,
        ImageFormat: 3,
        ImageInfoArray: [{ Type: 1, Size: FILES['/image.png']!.bytes.length, Width: 4000, Height: 3000, URL: `${mediaOrigin}/image.png?${i}` }],
      },
    });
    const video = (i: number) => ({
      MsgType: 'TIMVideoFileElem',
      MsgContent: {
        VideoUrl: `${mediaOrigin}/video.mp4?${i}`,
        VideoSecond: 60,
        VideoSize: FILES['/video.mp4']!.bytes.length,
        VideoFormat: 'mp4',
        VideoUUID: `v${i}`,
      },
    });
    let sampledMb = 0;
    const sampler = setInterval(() => (sampledMb = Math.max(sampledMb, pusher.peakRssMb())), 100);
    const started = Date.now();
    for (let round = 0; round < ROUNDS; round++) {
      const batch = customers.slice(round * IN_FLIGHT, (round + 1) * IN_FLIGHT);
      await Promise.all(
        batch.map((c, j) => {
          const i = round * IN_FLIGHT + j;
          return getJson(`${imUrl}/sim/agent-send`, 'POST', { From_Account: c.agent, To_Account: c.openid, MsgBody: [i % 2 === 0 ? image(i) : video(i)] });
        }),
      );
      const release = setTimeout(() => media.release(), 30_000);
      await waitForSent(wxUrl, (round + 1) * IN_FLIGHT, 180_000);
      clearTimeout(release);
    }
    clearInterval(sampler);
    const sent = await getJson<DeliveredMessage[]>(`${wxUrl}/sim/sent`);
    const kinds = sent.reduce<Record<string, number>>((acc, m) => ({ ...acc, [m.msgtype]: (acc[m.msgtype] ?? 0) + 1 }), {});
    const peakMb = Math.max(sampledMb, pusher.peakRssMb());
    process.stdout.write(
      [
        `wechat-pusher memory, ${ROUNDS} rounds of ${IN_FLIGHT} replies of 10 MB (image/video) in flight at once, Node ${process.version}`,
        `| idle RSS | peak RSS (VmHWM) | downloads at once (most) | delivered | seconds |`,
        `|---|---|---|---|---|`,
        `| ${idleMb.toFixed(0)} MB | ${peakMb.toFixed(0)} MB | ${media.mostInFlight()} | ${Object.entries(kinds)
          .map(([k, n]) => `${n} ${k}`)
          .join(', ')} | ${((Date.now() - started) / 1000).toFixed(1)} |`,
        '',
      ].join('\n'),
    );
  } finally {
    for (const p of procs.reverse()) await p.stop();
    media.server.close();
  }
}

await main();
