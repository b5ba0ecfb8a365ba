import { createServer } from 'node:net';
import { RedisOutageLog, isConnectionLoss } from '@wxim/host';
import { Redis } from 'ioredis';
import t from 'tap';

t.test('errors that mean Redis is out of reach are told from the rest', async (t) => {
  for (const message of ['write EPIPE', 'read ECONNRESET', 'connect ECONNREFUSED 127.0.0.1:6390', 'Connection is closed.']) {
    t.ok(isConnectionLoss(new Error(message)), message);
  }
  t.ok(isConnectionLoss(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), 'by its code');
  for (const message of ['Missing lock for job 7. moveToFinished', 'ERR unknown command', 'NOSCRIPT No matching script']) {
    t.notOk(isConnectionLoss(new Error(message)), message);
  }
});

t.test('a server that drops the connection gives an error counted as an outage', async (t) => {
  // A "Redis" that closes every socket at once: ioredis reports what a worker sees when Redis stops.
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const { port } = server.address() as { port: number };
  const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  const seen = new Promise<Error>((r) => redis.once('error', r));
  const failed = await redis
    .connect()
    .then(() => redis.ping())
    .then(
      () => undefined,
      (err: Error) => err,
    );
  const err = failed ?? (await seen);
  redis.disconnect();
  t.ok(isConnectionLoss(err), `"${err.message}" counts as Redis out of reach`);
});

t.test('an outage is said once, reminded once a minute, and its end said once', async (t) => {
  const said: string[] = [];
  const log = { warn: (_: object, msg: string) => said.push(`warn ${msg}`), info: (_: object, msg: string) => said.push(`info ${msg}`) };
  let now = 0;
  const outage = new RedisOutageLog(log, () => now);
  outage.failed('write EPIPE');
  for (now = 1000; now < 59_000; now += 1000) outage.failed('connect ECONNREFUSED');
  t.equal(said.length, 1, 'one line for the first minute');
  now = 61_000;
  outage.failed('connect ECONNREFUSED');
  t.match(said[1], /still unreachable/);
  outage.recovered();
  outage.recovered();
  t.equal(said.filter((l) => /answers again/.test(l)).length, 1, 'the end said once');
});
