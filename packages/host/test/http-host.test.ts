import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { type AddressInfo, connect } from 'node:net';
import { setTimeout } from 'node:timers/promises';
import { loadConfig } from '@wxim/config';
import { type HttpHandler, REQUEST_TIME_LIMIT_MS, createHttpHost, metricsRegistry } from '@wxim/host';
import { eventually, rawClient, startTestRedis, testPrefix } from '@wxim/testkit';
import type { FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';

const server = await startTestRedis();
t.teardown(() => server.close());

interface Options {
  localOnly?: boolean;
  bodyLimit?: number;
  ready?: () => boolean;
  events?: string[];
  requestTimeLimitMs?: number;
  /** As the services set it: connections in flight are let finish, never cut. */
  forceCloseConnections?: false;
  /** More routes of the service. */
  routes?: (app: FastifyInstance) => void;
}

/** A host whose service has one route, `POST /echo`, and records its lifecycle in `events`. */
async function host(t: Test, options: Options = {}) {
  const events = options.events ?? [];
  const running = await createHttpHost<HttpHandler>({
    service: 'http-host-test',
    config: loadConfig({ REDIS_URL: server.url, QUEUE_PREFIX: testPrefix(), LOG_LEVEL: 'silent', SANDBOX: '0' }),
    redisRole: 'queue',
    ...(options.bodyLimit === undefined ? {} : { server: { bodyLimit: options.bodyLimit } }),
    ...(options.forceCloseConnections === undefined ? {} : { server: { forceCloseConnections: options.forceCloseConnections } }),
    ...(options.localOnly === undefined ? {} : { localOnly: options.localOnly }),
    ...(options.requestTimeLimitMs === undefined ? {} : { requestTimeLimitMs: options.requestTimeLimitMs }),
    build: () => ({
      registry: metricsRegistry(),
      routes: async (app: FastifyInstance) => {
        app.post('/echo', async (req) => req.body);
        app.post('/slow', async (req) => {
          await setTimeout(Number((req.query as { ms: string }).ms));
          return { answered: true };
        });
        options.routes?.(app);
        app.addHook('onClose', async () => {
          events.push('server closed');
        });
      },
      ...(options.ready ? { ready: options.ready } : {}),
      closing: () => events.push('closing'),
      close: async () => {
        events.push(`service closed, redis answers ${await running.redis.ping()}`);
      },
    }),
  });
  t.teardown(() => running.close());
  // A `queue` connection fails commands until it is connected, rather than queueing them.
  if (running.redis.status !== 'ready') await once(running.redis, 'ready');
  return running;
}

t.test('the health routes answer: alive, ready while Redis and the service are, metrics with wxim_redis_up', async (t) => {
  let ready = true;
  const { app } = await host(t, { ready: () => ready });
  t.same((await app.inject({ url: '/healthz' })).json(), { status: 'ok' });
  const readyz = await app.inject({ url: '/readyz' });
  t.equal(readyz.statusCode, 200);
  t.same(readyz.json(), { status: 'ready' });
  ready = false;
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 503, 'not ready when the service says so');
  const metrics = await app.inject({ url: '/metrics' });
  t.equal(metrics.statusCode, 200);
  t.match(metrics.body, /^wxim_redis_up 1$/m);
});

/** Sends `head`, then `body` a byte every `everyMs`; resolves with what came back, when the server closed, and how long that took. */
async function trickle(port: number, head: string, body: string, everyMs: number) {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const began = performance.now();
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
  socket.write(head);
  const closed = once(socket, 'close');
  for (const byte of body) {
    if (socket.destroyed || socket.writableEnded) break;
    socket.write(byte);
    if ((await Promise.race([setTimeout(everyMs, 'sent'), closed])) !== 'sent') break;
  }
  await closed;
  return { answer, tookMs: performance.now() - began };
}

t.test('a request trickled in slower than the time limit is answered 408 and its connection closed; a slow answer is not cut', async (t) => {
  const { app } = await host(t, { requestTimeLimitMs: 600 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  const slowBody = await trickle(
    port,
    'POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n',
    `{"text":"${'x'.repeat(29)}"}`,
    100,
  );
  t.match(slowBody.answer, /^HTTP\/1\.1 408 /, 'a body a byte every 100 ms (4 s in all) is cut off');
  t.ok(slowBody.tookMs >= 600 && slowBody.tookMs < 600 + 600 + 1000, `cut at the limit, to its check (${Math.round(slowBody.tookMs)} ms)`);
  const slowHead = await trickle(port, '', 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n', 100);
  t.match(slowHead.answer, /^HTTP\/1\.1 408 /, 'a head a byte every 100 ms is cut off too');
  // The limit is on receiving the request: an answer that takes longer than it still arrives whole.
  const answered = await fetch(`http://127.0.0.1:${port}/slow?ms=1500`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  t.equal(answered.status, 200);
  t.same(await answered.json(), { answered: true });
  const quick = await fetch(`http://127.0.0.1:${port}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"x"}' });
  t.same(await quick.json(), { text: 'x' }, 'a request sent at once is taken');
});

t.test("every service's server has the limit by default", async (t) => {
  const { app } = await host(t);
  t.equal(app.server.requestTimeout, REQUEST_TIME_LIMIT_MS);
  t.equal(app.server.headersTimeout, REQUEST_TIME_LIMIT_MS);
  t.equal(REQUEST_TIME_LIMIT_MS, 10_000);
});

t.test("a body over the service's limit is answered 413 before its route", async (t) => {
  const { app } = await host(t, { bodyLimit: 1024 });
  const small = await app.inject({ method: 'POST', url: '/echo', payload: { text: 'x'.repeat(500) } });
  t.equal(small.statusCode, 200);
  t.same(small.json(), { text: 'x'.repeat(500) });
  t.equal((await app.inject({ method: 'POST', url: '/echo', payload: { text: 'x'.repeat(2000) } })).statusCode, 413);
});

t.test("a local-only service refuses (421) a Host that is not this machine's, on every path but the health paths", async (t) => {
  const { app } = await host(t, { localOnly: true });
  const post = (host: string, url = '/echo') => app.inject({ method: 'POST', url, headers: { host }, payload: {} });
  t.equal((await post('127.0.0.1:3002')).statusCode, 200);
  t.equal((await post('attacker.example')).statusCode, 421);
  t.equal((await post('attacker.example', '/no-such-path')).statusCode, 421, 'a path no route answers too');
  for (const url of ['/healthz', '/readyz', '/metrics']) t.equal((await app.inject({ url, headers: { host: '10.0.0.7:3002' } })).statusCode, 200, url);
});

t.test('a service that is not local-only answers any Host', async (t) => {
  const { app } = await host(t);
  t.equal((await app.inject({ method: 'POST', url: '/echo', headers: { host: 'relay.example' }, payload: {} })).statusCode, 200);
});

t.test('close: the service is told first, the server stops, then the service closes its parts while Redis is still there, then Redis; once', async (t) => {
  const events: string[] = [];
  const running = await host(t, { events });
  const ended = once(running.redis, 'end').then(() => true);
  const closing = running.close();
  t.equal(running.close(), closing, 'a second call waits for the same close');
  await closing;
  t.same(events, ['closing', 'server closed', 'service closed, redis answers PONG']);
  t.ok(await Promise.race([ended, setTimeout(2000, false)]), 'Redis is let go');
});

/** A request of the test's, in flight on a connection kept alive (a proxy's): its route answers once the test says. */
async function inFlight(t: Test, streamed: boolean) {
  let begun!: () => void;
  const started = new Promise<void>((r) => (begun = r));
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const running = await host(t, {
    forceCloseConnections: false,
    routes: (app) =>
      app.get('/held', async (_req, reply) => {
        begun();
        if (!streamed) return released.then(() => ({ answered: true }));
        // Its headers and a first piece go at once; the rest once the test says.
        const body = new PassThrough();
        body.write('first piece ');
        void released.then(() => body.end('last piece'));
        return reply.type('text/plain').send(body);
      }),
  });
  await running.app.listen({ host: '127.0.0.1', port: 0 });
  const { answer, ended } = rawClient(t, (running.app.server.address() as AddressInfo).port, '/held');
  await started;
  if (streamed) await eventually('its headers are out', () => answer().includes('first piece'));
  return { running, release, answer, ended };
}

t.test('close while a request is in flight on a kept-alive connection: its answer closes the connection, and the close ends then', async (t) => {
  const { running, release, answer, ended } = await inFlight(t, false);
  const closed = running.close();
  await eventually('the server has stopped taking connections', () => !running.app.server.listening);
  const asked = Date.now();
  release();
  const took = await Promise.race([closed.then(() => Date.now() - asked), setTimeout(5000, -1)]);
  t.ok(took >= 0 && took < 2500, `closed ${took} ms after the answer (left to the keep-alive: 72 s)`);
  t.match(answer(), /^HTTP\/1\.1 200/, 'the request in flight was answered');
  t.match(answer(), /\r\nconnection: close\r\n/i, 'with its connection closed after it');
  await ended;
});

t.test('close while an answer streams, its headers gone before the close: its connection is closed once it ends', async (t) => {
  const { running, release, answer, ended } = await inFlight(t, true);
  const closed = running.close();
  await eventually('the server has stopped taking connections', () => !running.app.server.listening);
  const asked = Date.now();
  release();
  const took = await Promise.race([closed.then(() => Date.now() - asked), setTimeout(5000, -1)]);
  t.ok(took >= 0 && took < 2500, `closed ${took} ms after the answer ended`);
  t.match(answer(), /last piece/, 'the whole answer went');
  await ended;
});

t.test('close while a large answer is still on its way to a client that reads slowly: it arrives whole', async (t) => {
  const size = 8 * 1024 * 1024;
  let begun!: () => void;
  const started = new Promise<void>((r) => (begun = r));
  const running = await host(t, {
    forceCloseConnections: false,
    routes: (app) =>
      app.get('/large', async (_req, reply) => {
        begun();
        return reply.type('application/octet-stream').send(Buffer.alloc(size, 1));
      }),
  });
  await running.app.listen({ host: '127.0.0.1', port: 0 });
  const { client, received, ended } = rawClient(t, (running.app.server.address() as AddressInfo).port, '/large', { paused: true });
  await started;
  const closed = running.close();
  await setTimeout(300); // the client reads only now: Node's close would have cut its connection meanwhile
  client.resume();
  await ended;
  await closed;
  t.ok(received() > size, `${received()} bytes: the whole answer and its headers`);
});
