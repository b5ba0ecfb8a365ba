import { loadConfig } from '@wxim/config';
import { LoginThrottle } from '@wxim/dashboard';
import { startTestRedis, testPrefix } from '@wxim/testkit';
import t from 'tap';
import { LOGIN, basicAuth, boardOnLoopback } from './board-client.js';

const redis = await startTestRedis();
t.teardown(() => redis.close());
const config = loadConfig({ REDIS_URL: redis.url, QUEUE_PREFIX: testPrefix(), LOG_LEVEL: 'silent', ...LOGIN });
const guess = basicAuth(LOGIN.DASHBOARD_USER, 'a-guess');

/** The board with a clock the test moves. */
async function board(t: Parameters<typeof boardOnLoopback>[0]) {
  const clock = { now: 1_700_000_000_000 };
  const { call } = await boardOnLoopback(t, config, { now: () => clock.now });
  return { clock, call };
}

t.test('five failed logins within a minute hold that address back 429 until the minute has passed, the right password too', async (t) => {
  const { clock, call } = await board(t);
  for (let i = 1; i <= 5; i++) {
    t.equal((await call('GET', '/api/queues', { headers: guess })).status, 401, `guess ${i}`);
    clock.now += 1000;
  }
  const held = await call('GET', '/api/queues');
  t.equal(held.status, 429, 'the right password, held back');
  t.equal(held.headers['retry-after'], '55', 'until the first failure is a minute old');
  t.match(held.json<{ error: string }>().error, /too many failed logins/);
  t.equal((await call('GET', '/api/queues', { headers: guess })).status, 429, 'a guess is not even looked at');
  t.equal((await call('GET', '/healthz', { headers: {} })).status, 200, 'probes are never held back');
  t.equal((await call('GET', '/metrics', { headers: {} })).status, 200, 'nor Prometheus');
  clock.now += 54_000;
  const last = await call('GET', '/api/queues');
  t.equal(last.status, 429, 'a second before the minute');
  t.equal(last.headers['retry-after'], '1');
  clock.now += 1000;
  t.equal((await call('GET', '/api/queues')).status, 200, 'the minute has passed');
});

t.test('another address is not held back', async (t) => {
  const { call } = await board(t);
  for (let i = 0; i < 5; i++) await call('GET', '/api/queues', { headers: guess });
  t.equal((await call('GET', '/api/queues')).status, 429, '127.0.0.1 is held back');
  t.equal((await call('GET', '/api/queues', { from: '127.0.0.2' })).status, 200, '127.0.0.2 is not');
});

t.test('a login that succeeds neither counts nor clears the count; a request without credentials is no failed login', async (t) => {
  const { call } = await board(t);
  for (let i = 0; i < 10; i++) t.equal((await call('GET', '/', { headers: {} })).status, 401, 'asked to sign in');
  for (let i = 0; i < 4; i++) t.equal((await call('GET', '/api/queues', { headers: guess })).status, 401);
  for (let i = 0; i < 10; i++) t.equal((await call('GET', '/api/queues')).status, 200, 'signed in');
  t.equal((await call('GET', '/api/queues', { headers: guess })).status, 401, 'the fifth failure');
  t.equal((await call('GET', '/api/queues')).status, 429, 'held back: the logins between did not clear it');
});

t.test('however many addresses fail, at most maxClients are remembered, and the one that failed last is still held back', async (t) => {
  const clock = { now: 0 };
  const throttle = new LoginThrottle({ maxClients: 100, now: () => clock.now });
  for (let i = 0; i < 50_000; i++) {
    throttle.failed(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    if (i % 1000 === 0) clock.now += 1;
  }
  t.equal(throttle.size, 100);
  for (let i = 0; i < 5; i++) throttle.failed('192.0.2.1');
  t.equal(throttle.size, 100);
  t.equal(throttle.waitSeconds('192.0.2.1'), 60);
  t.equal(throttle.waitSeconds('10.0.0.0'), 0, 'the first address was forgotten');
});

t.test('failures older than the window no longer count', async (t) => {
  const clock = { now: 0 };
  const throttle = new LoginThrottle({ now: () => clock.now });
  for (let i = 0; i < 4; i++) throttle.failed('192.0.2.1');
  clock.now += 60_000;
  throttle.failed('192.0.2.1');
  t.equal(throttle.waitSeconds('192.0.2.1'), 0, 'one failure within the minute');
  t.equal(throttle.size, 1);
});
