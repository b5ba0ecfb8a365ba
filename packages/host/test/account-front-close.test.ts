import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { loadConfig } from '@wxim/config';
import { type HttpHandler, type RunningService, type ServiceDefinition, buildForAccounts, createHttpHost, metricsRegistry } from '@wxim/host';
import { eventually, rawClient, startTestRedis, testPrefix } from '@wxim/testkit';
import t, { type Test } from 'tap';

// The accounts front (ACCOUNTS_FILE) closes as a service's own server does: a request in flight
// on a kept-alive connection (a proxy's) is answered, its connection closed after it, and the
// close ends then, not after the keep-alive's 72 s.
const server = await startTestRedis();
t.teardown(() => server.close());
const file = join(mkdtempSync(join(tmpdir(), 'wxim-front-')), 'accounts.yaml');
writeFileSync(file, 'accounts:\n  - id: brand-a\n    wechat: { token: tokenaaaa }\n  - id: brand-b\n    wechat: { token: tokenbbbb }\n');

/** Two accounts behind the front, each a host whose `/held` answers once the test says. */
async function front(t: Test) {
  let begun!: () => void;
  const started = new Promise<void>((r) => (begun = r));
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const definition: ServiceDefinition = {
    name: 'account-front-test',
    kind: 'http',
    requires: [],
    port: () => 0,
    shutdownMs: 10_000,
    async build(config): Promise<RunningService> {
      const host = await createHttpHost<HttpHandler>({
        service: 'account-front-test',
        config,
        redisRole: 'queue',
        server: { forceCloseConnections: false },
        build: () => ({
          registry: metricsRegistry(),
          routes: async (app) => {
            app.get('/held', async () => {
              begun();
              await released;
              return { answered: config.account };
            });
          },
          close: async () => undefined,
        }),
      });
      return { app: host.app, closing: () => host.closing(), close: () => host.close() };
    },
  };
  const config = loadConfig({ REDIS_URL: server.url, QUEUE_PREFIX: testPrefix(), ACCOUNTS_FILE: file, LOG_LEVEL: 'silent', SANDBOX: '0' });
  const running = await buildForAccounts(definition, config, { processMetrics: false });
  t.teardown(() => running.close());
  await running.app.listen({ host: '127.0.0.1', port: 0 });
  return { running, started, release };
}

t.test(
  'close while a request is in flight on a kept-alive connection to the accounts front: it is answered, its connection closed, and the close ends then',
  async (t) => {
    const { running, started, release } = await front(t);
    const { answer, ended } = rawClient(t, (running.app.server.address() as AddressInfo).port, '/accounts/brand-b/held');
    await started;
    const closed = running.close();
    await eventually('the front has stopped taking connections', () => !running.app.server.listening);
    const asked = Date.now();
    release();
    const took = await Promise.race([closed.then(() => Date.now() - asked), setTimeout(5000, -1)]);
    t.ok(took >= 0 && took < 2500, `closed ${took} ms after the answer (left to the keep-alive: 72 s)`);
    await ended;
    t.match(answer(), /^HTTP\/1\.1 200/, 'the request in flight was answered');
    t.match(answer(), /"answered":"brand-b"/, "by its account's service");
    t.match(answer(), /\r\nconnection: close\r\n/i, 'with its connection closed after it');
  },
);
