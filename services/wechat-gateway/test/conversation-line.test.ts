import { QUEUES, keyPrefix } from '@wxim/queue';
import { ConversationLine, stateKeys } from '@wxim/state';
import { fakeOpenId } from '@wxim/sandbox';
import { startGateway, startTestRedis } from '@wxim/testkit';
import { type WechatMessage, dedupeId } from '@wxim/wechat';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';

// The gateway alone: no im-worker runs, so whatever stands in a line was put there as the push was stored.
const redis = await startTestRedis();
t.teardown(() => redis.close());
const gw = await startGateway(redis.url);
t.teardown(() => gw.close());
const client = new Redis(redis.url);
t.teardown(() => client.quit());

const keys = stateKeys(keyPrefix(gw.config.queuePrefix, gw.config.redisCluster));
const line = new ConversationLine(client, keys, QUEUES.wechatInbound, keys.relayIds);
const lineOf = (openid: string) => client.zrange(keys.line(QUEUES.wechatInbound, openid), 0, -1);
const wx = gw.platform('safe');

/** A menu link the customer opened: an event that takes no turn (nothing for an agent to answer). */
function openedMenuLink(openid: string): WechatMessage {
  return { kind: 'view', toUserName: wx.accountId, fromUserName: openid, createTime: Math.floor(Date.now() / 1000), eventKey: 'https://shop.example/menu' };
}

async function pushAll(t: Test, messages: WechatMessage[]): Promise<void> {
  for (const message of messages) t.equal((await wx.push(message)).status, 200, `${message.kind} from ${message.fromUserName} stored`);
}

t.test("each push joins its customer's line as the gateway stores it, in the order pushed", async (t) => {
  const [ann, bob] = [fakeOpenId(), fakeOpenId()];
  const annWrites = [wx.text(ann, 'one'), wx.location(ann, 31.2, 121.5, 'the shop'), wx.text(ann, 'three')];
  const bobWrites = [wx.text(bob, 'hello')];
  const before = await gw.jobCount();
  await pushAll(t, [annWrites[0]!, bobWrites[0]!, annWrites[1]!, openedMenuLink(ann), annWrites[2]!]);
  t.same(await lineOf(ann), annWrites.map(dedupeId), "ann's messages, in order; the menu link takes no place");
  t.same(await lineOf(bob), bobWrites.map(dedupeId), "bob's line is his own");
  t.equal(await gw.jobCount(), before + 5, 'every push stored, the menu link too');
});

t.test('a later push picked before an earlier one waits its turn: the line knew both before any worker did', async (t) => {
  const openid = fakeOpenId();
  const writes = [wx.text(openid, 'first'), wx.text(openid, 'second')];
  await pushAll(t, writes);
  const [first, second] = writes.map(dedupeId);
  // What a worker asks as it picks a job. Were a job not in line yet, the worker would append it
  // then: the second, picked first, would go ahead of the first.
  t.equal(await line.turn(openid, second!), 'waiting', 'the second waits');
  t.equal(await line.turn(openid, first!), 'head', 'the first goes first');
});
