import { testRedisConnection } from '@wxim/testkit';
import t from 'tap';
import { deliveredSoFar } from '../src/reply-delivery.js';

// How far a reply got, from its progress hash on a real Redis: what the last word of a reply whose
// attempts ran out (or that BullMQ failed itself) says.
const { redis } = await testRedisConnection(t);
// Longer than WeChat takes in one send (2048 bytes): two parts.
const body = [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'a'.repeat(2048) + 'b'.repeat(500) } }];

t.test('the first part not confirmed, of how many, and whether it may have arrived all the same', async (t) => {
  const key = 'delivered-so-far:1';
  t.same(await deliveredSoFar(redis, key, body), { part: 0, of: 2, uncertain: false }, 'nothing went');
  await redis.hset(key, 'p0', 'sent');
  t.same(await deliveredSoFar(redis, key, body), { part: 1, of: 2, uncertain: false }, 'the first went, the second never left');
  await redis.hset(key, 'p1', 'sending');
  t.same(await deliveredSoFar(redis, key, body), { part: 1, of: 2, uncertain: true }, 'the second was on its way');
  await redis.hset(key, 'p1', 'uncertain');
  t.same(await deliveredSoFar(redis, key, body), { part: 1, of: 2, uncertain: true }, 'WeChat did not answer the second');
  await redis.hset(key, 'p1', 'sent');
  t.same(await deliveredSoFar(redis, key, body), { part: 2, of: 2, uncertain: false }, 'all went');
});
