import type { Queue } from 'bullmq';
import type { RedisClient } from '@wxim/queue';

// KEYS: the queue's delayed, wait, meta, active, marker and events keys. ARGV: job key prefix, job id.
// BullMQ's promote, but to the front of the wait list instead of the back: the job a finished one
// woke is the next of its customer's line and runs next, not behind the whole backlog (which, for
// a customer who wrote several messages in a row, would cost a pass through the backlog each).
// Same effects otherwise: the job leaves `delayed`, a marker wakes a blocked worker unless the
// queue is paused or at its concurrency, a `waiting` event, `delay` reset. 0: woken; -3: the job
// was not delayed (still waiting, active, or gone), nothing to do.
const WAKE = `
if redis.call('ZREM', KEYS[1], ARGV[2]) == 0 then return -3 end
redis.call('RPUSH', KEYS[2], ARGV[2])
local meta = redis.call('HMGET', KEYS[3], 'paused', 'concurrency')
local held = meta[1] or (meta[2] and redis.call('LLEN', KEYS[4]) >= tonumber(meta[2]))
if not held then redis.call('ZADD', KEYS[5], 0, '0') end
redis.call('XADD', KEYS[6], '*', 'event', 'waiting', 'jobId', ARGV[2], 'prev', 'delayed')
redis.call('HSET', ARGV[1] .. ARGV[2], 'delay', 0)
return 0
`;

type WakeCommand = { wximWakeToFront(...args: string[]): Promise<number> };

/** Moves a delayed job of `queue` to the front of its wait list; false if it was not delayed. */
export function wakeToFront(redis: RedisClient, queue: Queue): (jobId: string) => Promise<boolean> {
  if (!('wximWakeToFront' in redis)) redis.defineCommand('wximWakeToFront', { numberOfKeys: 6, lua: WAKE });
  const r = redis as unknown as WakeCommand;
  const k = queue.keys;
  return async (jobId) => (await r.wximWakeToFront(k.delayed!, k.wait!, k.meta!, k.active!, k.marker!, k.events!, `${k['']!}`, jobId)) === 0;
}
