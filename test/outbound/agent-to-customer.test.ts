import { fakeOpenId } from '@wxim/sandbox';
import { textElem } from '@wxim/im';
import t from 'tap';
import { textOf, twoWayForTests } from '@wxim/testkit';

const relay = await twoWayForTests(t);
const { im, wechatApi } = relay;

t.test("an agent's text reaches the customer through WeChat's customer-service API", async (t) => {
  const openid = fakeOpenId();
  const agent = await relay.customerWrites(openid, 'hello, anyone there?');
  const customer = im.messages.find((m) => m.cloudCustomData?.includes(openid))!.from;
  const sent = await im.agentSend(agent, customer, [textElem('Hi! How can I help?')]);
  t.ok(sent.delivered, 'im-callback answered OK within 2 s');
  const [message] = await relay.waitForSent(openid, 1);
  t.match(message, { openid, msgtype: 'text', payload: { content: 'Hi! How can I help?' } });
  const fetches = wechatApi.stats.tokenFetches;
  t.equal(fetches.stable + fetches.forced + fetches.token, 1, 'one token fetch');
});

t.test('30 replies across 3 conversations arrive once each, in the order the agents sent them', async (t) => {
  // WeChat allows 5 replies per customer message (quotas do not add up): each customer writes
  // again after every five, as a real conversation would.
  const conversation = async (openid: string) => {
    const agent = await relay.customerWrites(openid, 'I have a question');
    const userId = im.messages.find((m) => m.cloudCustomData?.includes(openid))!.from;
    for (let round = 0; round < 2; round++) {
      if (round > 0) await relay.customerWrites(openid, 'and another');
      for (let i = 1; i <= 5; i++) await im.agentSend(agent, userId, [textElem(`answer ${round * 5 + i}`)]);
      await relay.waitForSent(openid, (round + 1) * 5);
    }
    return openid;
  };
  const customers = await Promise.all([fakeOpenId(), fakeOpenId(), fakeOpenId()].map(conversation));
  for (const openid of customers) {
    t.same(
      wechatApi.sentTo(openid).map((m) => m.payload['content']),
      Array.from({ length: 10 }, (_, i) => `answer ${i + 1}`),
      'ten replies, in order, once each',
    );
  }
  // Each fifth reply used its window's last: told so (⏳); no reply came back undelivered (⚠).
  const notices = im.messages.filter((m) => m.cloudCustomData?.includes('relay-notice')).map(textOf);
  t.same(
    notices.filter((text) => !text.startsWith('⏳')),
    [],
    'no notice: every reply was delivered',
  );
});
