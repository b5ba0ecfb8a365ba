import t from 'tap';
import { textElem } from '@wxim/im';
import { eventually, startReplicaPair, startTwoWay } from '@wxim/testkit';

// The reply side of REDIS_WAIT_REPLICAS, with a real primary and a replica. A reply im-callback
// stored while the replica was frozen is on the primary only: IM is not told it was taken, and
// the pusher must not send it to WeChat until the replica holds it. Otherwise a failover (the job
// gone with the old primary) would let the gap's look through IM's history store it again on the
// new primary, and the customer would get it twice. (Two checks stand in the way: the job's, and
// each part's `sending` mark confirmed on the replicas before the part goes.)
const { primary, replica } = await startReplicaPair(t);
const relay = await startTwoWay(primary.url, { env: { REDIS_WAIT_REPLICAS: '1' } });
t.teardown(() => relay.close());

async function replicaRetries(): Promise<number> {
  const text = (await relay.pusher.app.inject({ url: '/metrics' })).body;
  return Number(/^wxim_pusher_retries_total\{class="replicas"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

t.test('REDIS_WAIT_REPLICAS=1: a reply only the primary holds is not sent to WeChat until the replica has it, then once', async (t) => {
  const { openid, userId, agent } = await relay.newCustomer();
  await relay.im.agentSend(agent, userId, [textElem('before')]);
  await relay.waitForSent(openid, 1, 30_000);

  replica.pause();
  try {
    const sent = await relay.im.agentSend(agent, userId, [textElem('while the replica is frozen')]);
    t.notOk(sent.delivered, 'im-callback did not tell IM it took the reply');
    // Until the pusher held it back, or sent it (what a pusher without the check does).
    await eventually('the pusher has tried the job', async () => (await replicaRetries()) >= 1 || relay.wechatApi.sentTo(openid).length > 1, 30_000, 100);
    t.same(relay.textsTo(openid), ['before'], 'nothing sent to WeChat while only the primary has it');
  } finally {
    replica.resume();
  }
  await relay.waitForSent(openid, 2, 30_000);
  const idle = async () => Object.values(await relay.pusher.queue.getJobCounts('active', 'wait', 'delayed', 'prioritized')).every((n) => n === 0);
  await eventually('the reply jobs are done', idle, 30_000, 100);
  // The gap im-callback marked is looked through IM's history too: the reply is found there again.
  await eventually(
    'the gap is looked through',
    async () => /^wxim_callback_gaps_waiting 0$/m.test((await relay.callback.app.inject({ url: '/metrics' })).body),
    60_000,
    200,
  );
  await eventually('nothing more is queued', idle, 30_000, 100);
  t.same(relay.textsTo(openid), ['before', 'while the replica is frozen'], 'delivered once, in order');
});
