import { Redis } from 'ioredis';
import t from 'tap';
import { converse, startTestRedisCluster, startRelay, textOf } from '@wxim/testkit';

// REDIS_CLUSTER=1 against a real three-node cluster that requires a password, given in REDIS_URL.
const password = 'p@ss w/rd:1';
const cluster = await startTestRedisCluster(password);
// A prefix whose slot is on another node than the one in REDIS_URL: the relay must reach the
// nodes the cluster names, with the password too.
const prefix = await prefixServedElsewhere();
const relay = await startRelay(cluster.url, { env: { REDIS_CLUSTER: '1', QUEUE_PREFIX: prefix } });
t.teardown(async () => {
  await relay.close();
  await cluster.close();
});

t.test('on a Redis Cluster with a password: every message relayed once, in order, a repeat stored once', async (t) => {
  const { wechat, gateway } = relay;
  const conversations = await converse(wechat, 6, 5);
  const repeat = wechat.sign(wechat.text(conversations[0]!.openid, 'said twice'));
  t.equal((await wechat.post(repeat)).status, 200);
  t.equal((await wechat.post(repeat)).status, 200, 'the repeat is answered too');
  const messages = await relay.waitForMessages(31);
  for (const { openid, texts } of conversations.slice(1)) t.same(relay.im.messagesBetween(openid).map(textOf), texts, openid);
  t.same(relay.im.messagesBetween(conversations[0]!.openid).map(textOf), [...conversations[0]!.texts, 'said twice'], 'with the repeat once');
  t.equal(messages.length, 31, 'exactly once');
  t.equal(await gateway.jobCount(), 31, 'the repeat stored once');

  // Everything lives under the hash-tagged prefix, so one node holds all of it.
  const perNode = await Promise.all(
    cluster.ports.map(async (port) => {
      const node = new Redis({ port, host: '127.0.0.1', password });
      const keys = await node.keys(`{${prefix}}*`);
      node.disconnect();
      return keys.length;
    }),
  );
  t.equal(perNode.filter((n) => n > 0).length, 1, `the relay's keys are on one node: ${perNode.join(', ')}`);
  t.equal(perNode[0], 0, 'not the node in REDIS_URL');
});

async function prefixServedElsewhere(): Promise<string> {
  const first = new Redis({ port: cluster.ports[0]!, host: '127.0.0.1', password });
  try {
    const slots = await first.cluster('SLOTS');
    for (let i = 0; ; i++) {
      const candidate = `cluster${i}`;
      const slot = await first.cluster('KEYSLOT', `{${candidate}}`);
      const owner = slots.find(([from, to]) => slot >= from && slot <= to)?.[2]?.[1];
      if (owner !== cluster.ports[0]) return candidate;
    }
  } finally {
    first.disconnect();
  }
}
