import { textElem } from '@wxim/im';
import { fakeOpenId } from '@wxim/sandbox';
import type { WechatMessage } from '@wxim/wechat';
import { eventually, textOf, twoWayForTests } from '@wxim/testkit';
import t from 'tap';

// A scan-code menu item (scancode_waitmsg): the customer scans an order's code and waits for the
// account's answer. WeChat lets the account answer such a tap as a menu click: 3 messages within a
// minute. The agent sees what was scanned, and the answer reaches the customer.
const relay = await twoWayForTests(t);
const { im, wechat } = relay;

/** A customer's scan with the account's scan-code menu item that waits for the answer. */
function scanned(openid: string, scanResult: string): WechatMessage {
  return {
    kind: 'scancode',
    toUserName: wechat.accountId,
    fromUserName: openid,
    createTime: Math.floor(Date.now() / 1000),
    event: 'scancode_waitmsg',
    eventKey: 'SCAN_ORDER',
    scanType: 'qrcode',
    scanResult,
  };
}

t.test('a customer who only scanned with a scan-code menu item is answered: the agent sees the scan, and the reply is delivered', async (t) => {
  const openid = fakeOpenId();
  t.equal((await wechat.push(scanned(openid, 'ORDER-12345'))).status, 200);
  await eventually('the scan reaches an agent', () => im.messages.some((m) => m.cloudCustomData?.includes(openid)));
  const note = im.messages.find((m) => m.cloudCustomData?.includes(openid))!;
  t.match(textOf(note), /ORDER-12345$/, 'the agent sees what was scanned');
  await im.agentSend(note.to, note.from, [textElem('Order ORDER-12345 ships today.')]);
  await relay.waitForSent(openid, 1, 15_000);
  t.same(relay.textsTo(openid), ['Order ORDER-12345 ships today.'], 'the answer reaches the customer');
});

t.test("a scan after the agent used up the message's five replies opens the minute's three: the next reply is delivered", async (t) => {
  const openid = fakeOpenId();
  const agent = await relay.customerWrites(openid, 'where is my order?');
  const userId = im.messages.find((m) => m.cloudCustomData?.includes(openid))!.from;
  for (let i = 1; i <= 5; i++) await im.agentSend(agent, userId, [textElem(`reply ${i}`)]);
  await relay.waitForSent(openid, 5, 15_000);
  t.equal((await wechat.push(scanned(openid, 'ORDER-67890'))).status, 200);
  await eventually('the scan reaches the agent', () => im.messagesBetween(openid).length === 2);
  await im.agentSend(agent, userId, [textElem('reply 6, about the scan')]);
  await relay.waitForSent(openid, 6, 15_000);
  t.equal(relay.textsTo(openid).at(-1), 'reply 6, about the scan');
});
