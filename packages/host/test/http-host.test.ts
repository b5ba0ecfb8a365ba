import { once } from 'node:events';
import { setTimeout } from 'node:timers/promises';
import { loadConfig } from '@wxim/config';
import { type HttpHandler, createHttpHost, metricsRegistry } from '@wxim/host';
import { startTestRedis, testPrefix } from '@wxim/testkit';
import type { FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';

const server = await startTestRedis();
t.teardown(() => server.close());

interface Options {
  localOnly?: boolean;
  bodyLimit?: number;
  ready?: () => boolean;
  events?: string[];
}

/** A host whose service has one route, `POST /echo`, and records its lifecycle in `events`. */
async function host(t: Test, options: Options = {}) {
  const events = options.events ?? [];
  const running = await createHttpHost<HttpHandler>({
    service: 'http-host-test',
    config: loadConfig({ REDIS_URL: server.url, QUEUE_PREFIX: testPrefix(), LOG_LEVEL: 'silent', SANDBOX: '0' }),
    redisRole: 'queue',
    ...(options.bodyLimit === undefined ? {} : { server: { bodyLimit: options.bodyLimit } }),
    ...(options.localOnly === undefined ? {} : { localOnly: options.localOnly }),
    build: () => ({
      registry: metricsRegistry(),
      routes: async (app: FastifyInstance) => {
        app.post('/echo', async (req) => req.body);
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
