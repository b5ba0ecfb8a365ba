import { fakeOpenId } from '@wxim/sandbox';
import t from 'tap';
import { relayForTests, textOf } from '@wxim/testkit';

const relay = await relayForTests(t);
const { wechat, im } = relay;

t.test("a customer's WeChat faces reach the agent as emoji; a link and an unknown bracket as written", async (t) => {
  const openid = fakeOpenId();
  const texts = ['/::)', 'Thanks[Smile] 好的[微笑]/:rose', "/::'(/::-| [something] https://example.com/:v"];
  for (const text of texts) t.equal((await wechat.push(wechat.text(openid, text))).status, 200);
  await relay.waitForMessages(texts.length);
  t.same(im.messagesBetween(openid).map(textOf), ['🙂', 'Thanks🙂 好的🙂🌹', '😭😬 [something] https://example.com/:v']);
});
