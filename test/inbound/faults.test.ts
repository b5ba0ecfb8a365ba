import t from 'tap';
import { converse, relayForTests, textOf } from '@wxim/testkit';

const relay = await relayForTests(t, { env: { WORKER_CONCURRENCY: '16' } });

t.test('with 30% of IM calls failing, every message arrives exactly once and in order per customer', async (t) => {
  relay.im.faults = { rate: 0.3, kinds: ['http500', 'busy', 'lost', 'slow'], slowMs: 200 };
  const conversations = await converse(relay.wechat, 20, 15);
  await relay.waitForMessages(300, 60_000);
  relay.im.faults = { rate: 0, kinds: [] };
  for (const { openid, texts } of conversations) {
    t.same(relay.im.messagesBetween(openid).map(textOf), texts, openid);
    t.same(relay.im.historyBetween(openid).map(textOf), texts, `${openid} in IM's history`);
  }
  t.equal(relay.im.messages.length, 300, 'nothing else arrived');
  const { faults, duplicatesDropped } = relay.im.stats;
  t.ok(faults.http500 > 0 && faults.busy > 0 && faults.lost > 0, `faults injected: ${JSON.stringify(faults)}`);
  t.ok(duplicatesDropped > 0, `IM absorbed ${duplicatesDropped} resends of answers that were lost`);
});
