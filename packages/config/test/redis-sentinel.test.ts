import { ConfigError, loadConfig } from '@wxim/config';
import t from 'tap';

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('loadConfig accepted it');
}

t.test('the sentinels and the primary name are read together; the port is 26379 when left out', async (t) => {
  const c = loadConfig({ REDIS_SENTINELS: ' sentinel-0:26380, 10.0.0.7 ,[fd00::1]:26381', REDIS_SENTINEL_NAME: 'mymaster' });
  t.same(c.redisSentinel, {
    sentinels: [
      { host: 'sentinel-0', port: 26380 },
      { host: '10.0.0.7', port: 26379 },
      { host: 'fd00::1', port: 26381 },
    ],
    name: 'mymaster',
  });
  t.equal(loadConfig({}).redisSentinel, undefined, 'no sentinels: REDIS_URL is the server');
  t.equal(
    loadConfig({ REDIS_SENTINELS: 's:1', REDIS_SENTINEL_NAME: 'm', REDIS_SENTINEL_PASSWORD: 'sentinel secret' }).redisSentinel?.password,
    'sentinel secret',
  );
});

t.test('one without the other stops start-up, naming the one missing', async (t) => {
  t.match(errorOf({ REDIS_SENTINELS: 'sentinel-0:26379' }), /^REDIS_SENTINEL_NAME is missing: .*mymaster.*needed with REDIS_SENTINELS$/);
  t.match(errorOf({ REDIS_SENTINEL_NAME: 'mymaster' }), /^REDIS_SENTINELS is missing: comma-separated host:port .*needed with REDIS_SENTINEL_NAME$/);
  t.match(errorOf({ REDIS_SENTINEL_PASSWORD: 'hunter2hunter2' }), /^REDIS_SENTINEL_PASSWORD is set without REDIS_SENTINELS/);
});

t.test('not with REDIS_CLUSTER=1', async (t) => {
  t.match(
    errorOf({ REDIS_SENTINELS: 'sentinel-0:26379', REDIS_SENTINEL_NAME: 'mymaster', REDIS_CLUSTER: '1' }),
    /^REDIS_SENTINELS is set with REDIS_CLUSTER=1: one or the other/,
  );
});

t.test('malformed addresses and names are refused, and the value is never echoed', async (t) => {
  for (const bad of [
    'nowhere7:',
    'nowhere7:0',
    'nowhere7:65536',
    'nowhere7,,b',
    'redis://nowhere7:26379',
    'user:pw@nowhere7:26379',
    '-nowhere7:26379',
    ' , ',
  ]) {
    const message = errorOf({ REDIS_SENTINELS: bad, REDIS_SENTINEL_NAME: 'mymaster' });
    t.match(message, /^REDIS_SENTINELS is malformed: comma-separated host:port/, bad);
    if (bad.trim() !== ',') t.notOk(message.includes(bad.trim()), `${bad}: not echoed`);
  }
  t.match(errorOf({ REDIS_SENTINELS: 'sentinel-0', REDIS_SENTINEL_NAME: 'my master' }), /^REDIS_SENTINEL_NAME is malformed: /);
  const secret = 'not-for-logs-4711';
  t.notOk(errorOf({ REDIS_SENTINEL_PASSWORD: secret }).includes(secret), 'the password is never in the message');
});
