import { HOLD_MARK, queueHold } from '@wxim/state';
import { Redis } from 'ioredis';
import t from 'tap';
import { startTestRedis, testPrefix } from '@wxim/testkit';

const server = await startTestRedis();
const redis = new Redis(server.url);
t.teardown(async () => {
  redis.disconnect();
  await server.close();
});

t.test('a hold on the queue is only ever lengthened: a short "slow down" does not cut a long one short', async (t) => {
  const key = `${testPrefix()}:wechat-inbound:limiter`;
  const hold = queueHold(redis, key);
  await redis.set(key, '3', 'PX', 900); // BullMQ counting jobs this second: not a hold
  await hold(1000);
  t.equal(Number(await redis.get(key)), HOLD_MARK, 'a count becomes a hold');
  await hold(60_000); // 70050: a minute
  await hold(1000); // then 60007 from another call: a second
  t.ok((await redis.pttl(key)) > 59_000, `still held for the minute (${await redis.pttl(key)} ms left)`);
  t.equal(Number(await redis.get(key)), HOLD_MARK);
});
