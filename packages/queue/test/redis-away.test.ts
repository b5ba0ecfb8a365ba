import { InOrderWhileAway, redisAway, whileRedisAway } from '@wxim/queue';
import t from 'tap';

t.test("Redis away: its own 'not now' answers, ioredis's words for a missing connection, socket errors", async (t) => {
  for (const message of [
    'LOADING Redis is loading the dataset in memory',
    "READONLY You can't write against a read only replica.",
    'CLUSTERDOWN The cluster is down',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    "Stream isn't writeable and enableOfflineQueue options is false",
    'Connection is closed.',
  ])
    t.ok(redisAway(new Error(message)), message);
  t.ok(redisAway(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' })), 'refused');
  t.ok(
    redisAway(
      Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), { previousErrors: [new Error('LOADING Redis is loading')] }),
    ),
    'a MULTI refused while loading',
  );
});

t.test('not away: what trying again a moment later would not change', async (t) => {
  for (const message of [
    "OOM command not allowed when used memory > 'maxmemory'.",
    'ERR Error running script (call to f_0123): @user_script:1: bad argument',
    'NOSCRIPT No matching script.',
  ])
    t.notOk(redisAway(new Error(message)), message);
  t.notOk(redisAway(Object.assign(new Error('EXECABORT Transaction discarded'), { previousErrors: [new Error('ERR wrong number of arguments')] })));
  t.notOk(redisAway('LOADING'), 'not an error');
});

t.test('whileRedisAway tries again while Redis is away and time is left, and gives the last error after', async (t) => {
  let tries = 0;
  t.equal(
    await whileRedisAway(Date.now() + 2000, async () => {
      if (++tries < 3) throw new Error('LOADING Redis is loading the dataset in memory');
      return 'stored';
    }),
    'stored',
  );
  t.equal(tries, 3);
  tries = 0;
  await t.rejects(
    whileRedisAway(Date.now() + 350, async () => {
      tries++;
      throw new Error('Connection is closed.');
    }),
    /Connection is closed/,
  );
  t.ok(tries >= 2 && tries <= 3, `tried while the time lasted (${tries})`);
  tries = 0;
  await t.rejects(
    whileRedisAway(Date.now() + 2000, async () => {
      tries++;
      throw new Error('OOM command not allowed');
    }),
  );
  t.equal(tries, 1, 'another error: at once');
});

t.test('InOrderWhileAway: a try begun while an earlier one waits to be tried again goes after it, not the moment Redis is back', async (t) => {
  const inOrder = new InOrderWhileAway();
  let away = true;
  const order: string[] = [];
  const attempt = (name: string) => async () => {
    if (away) throw new Error('Connection is closed.');
    order.push(name);
  };
  let firstRetrying!: () => void;
  const firstWaits = new Promise<void>((resolve) => (firstRetrying = resolve));
  const first = inOrder.run(Date.now() + 2000, attempt('first'), () => firstRetrying());
  await firstWaits;
  // Redis is back while the first waits out its 100 ms: the second would be stored at once.
  away = false;
  const second = inOrder.run(Date.now() + 2000, attempt('second'));
  await Promise.all([first, second]);
  t.same(order, ['first', 'second']);
});

t.test(
  'InOrderWhileAway: a later try waits for earlier ones at most until its own deadline, then fails untried; while Redis answers, none waits',
  async (t) => {
    const inOrder = new InOrderWhileAway();
    let retried!: () => void;
    const retrying = new Promise<void>((resolve) => (retried = resolve));
    const stuck = inOrder.run(
      Date.now() + 1500,
      async () => {
        throw new Error('LOADING Redis is loading the dataset in memory');
      },
      () => retried(),
    );
    await retrying;
    const began = Date.now();
    let tried = false;
    await t.rejects(
      inOrder.run(began + 300, async () => {
        tried = true;
        return 'stored';
      }),
      { name: 'EarlierStillWaiting' },
      'failed once its own time was out',
    );
    const waited = Date.now() - began;
    t.ok(waited >= 250 && waited < 1200, `waited ${waited} ms, not the earlier one's 1.5 s`);
    t.notOk(tried, 'and never tried: it would have gone ahead of the earlier one');
    await t.rejects(stuck, /LOADING/);
    // Nothing retrying now: two tries together, neither waits for the other.
    const both = Date.now();
    t.same(await Promise.all([inOrder.run(both + 2000, async () => 1), inOrder.run(both + 2000, async () => 2)]), [1, 2]);
    t.ok(Date.now() - both < 1000, 'at once, not after a wait');
  },
);
