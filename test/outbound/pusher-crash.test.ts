import { fileURLToPath } from 'node:url';
import { decodeRelayCustomData, textElem } from '@wxim/im';
import { fakeOpenId } from '@wxim/sandbox';
import { eventually, freePort, runService, twoWayForTests, whenReady } from '@wxim/testkit';
import t from 'tap';

const PUSHER = fileURLToPath(new URL('../../services/wechat-pusher/dist/main.js', import.meta.url));
const relay = await twoWayForTests(t, { startPusher: false });
const { im, wechatApi } = relay;

async function pusherProcess() {
  const port = await freePort();
  const proc = runService(PUSHER, { ...relay.env, PUSHER_PORT: String(port), WORKER_STALL_MS: '1000' });
  await whenReady(port, proc.child);
  return proc;
}

t.test('a pusher killed mid-burst loses nothing and sends nothing WeChat confirmed twice', async (t) => {
  const customers = await Promise.all(
    Array.from({ length: 8 }, async () => {
      const openid = fakeOpenId();
      const agent = await relay.customerWrites(openid, 'hello');
      return { openid, agent, userId: im.messages.find((m) => m.cloudCustomData?.includes(openid))!.from };
    }),
  );
  // Slow answers keep sends in flight when the process dies.
  wechatApi.answerLate('message/custom/send', 150, 1000);
  const first = await pusherProcess();
  const replies: { openid: string; text: string }[] = [];
  for (const { openid, agent, userId } of customers) {
    for (let i = 1; i <= 5; i++) {
      const text = `${openid} reply ${i}`;
      replies.push({ openid, text });
      await im.agentSend(agent, userId, [textElem(text)]);
    }
  }
  await eventually('some replies arrive', () => wechatApi.sent.length >= 8);
  first.child.kill('SIGKILL');
  await first.exited;
  const atKill = wechatApi.sent.length;
  t.ok(atKill < replies.length, `killed with ${atKill} of ${replies.length} delivered`);

  const second = await pusherProcess();
  t.teardown(() => {
    second.child.kill('SIGTERM');
  });
  // Notices about replies; the fifth reply of each customer also brings the reply window's notice.
  const notices = () =>
    im.messages.filter((m) => {
      const data = decodeRelayCustomData(m.cloudCustomData);
      return data?.source === 'relay-notice' && !data.reason?.startsWith('window-');
    });
  const settled = () =>
    replies.every(
      (r) => wechatApi.sent.some((m) => m.payload['content'] === r.text) || notices().some((n) => JSON.stringify(n.body).includes(r.text.slice(0, 20))),
    );
  await eventually('every reply is delivered or its agent told', settled, 30_000);

  const texts = wechatApi.sent.map((m) => String(m.payload['content']));
  t.equal(new Set(texts).size, texts.length, 'no reply reached the customer twice');
  const uncertain = notices().filter((n) => JSON.stringify(n.body).includes('may not have been delivered'));
  t.equal(uncertain.length, notices().length, 'the only notices are for sends cut mid-flight');
  const neither = replies.filter((r) => !texts.includes(r.text) && !uncertain.some((n) => JSON.stringify(n.body).includes(r.text.slice(0, 20))));
  t.same(neither, [], 'each reply delivered, or its agent told it may not have arrived (a send cut mid-flight may have arrived too)');
  t.ok(uncertain.length <= 8, `at most the sends in flight at the kill are uncertain (${uncertain.length})`);
  for (const { openid } of customers) {
    const mine = replies.filter((r) => r.openid === openid).map((r) => r.text);
    const got = wechatApi.sentTo(openid).map((m) => String(m.payload['content']));
    t.same(
      got,
      mine.filter((x) => got.includes(x)),
      'in order',
    );
  }
});
