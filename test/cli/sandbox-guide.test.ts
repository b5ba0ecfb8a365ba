import t from 'tap';
import { redactedUrl } from '../../cli/dist/sandbox-guide.js';

// Sandbox mode prints the Redis it uses, which may be a shared one: never with its password,
// wherever the URL carries it (ioredis reads one from the query too).
t.test('a Redis URL is shown without its password, before the host or in the query', async (t) => {
  t.equal(redactedUrl('redis://relay:s3cret@redis.example:6380/2'), 'redis://relay:***@redis.example:6380/2');
  t.equal(redactedUrl('redis://:s3cret@redis.example:6379'), 'redis://:***@redis.example:6379');
  const query = redactedUrl('rediss://redis.example:6379/0?password=s3cret&db=1');
  t.notMatch(query, /s3cret/);
  t.match(query, /password=\*\*\*/);
  t.match(query, /db=1/, 'the rest kept');
  t.notMatch(redactedUrl('redis://redis.example:6379?Password=s3cret'), /s3cret/, 'whatever its case');
  t.equal(redactedUrl('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379', 'nothing to hide');
});
