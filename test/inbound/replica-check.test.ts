import t from 'tap';
import { fakeOpenId } from '@wxim/sandbox';
import { eventually, startRelay, startReplicaPair, textOf } from '@wxim/testkit';

// A real primary and a replica. With REDIS_WAIT_REPLICAS=1 the gateway answers 503 to a push the
// replica does not confirm, but the job is on the primary all the same: a worker must not relay
// it until the replica holds it. Otherwise a failover (the job gone with the old primary) would
// let WeChat's retry, stored again on the new primary, reach the agent a second time.
const { primary, replica } = await startReplicaPair(t);
const relay = await startRelay(primary.url, { env: { REDIS_WAIT_REPLICAS: '1' } });
t.teardown(() => relay.close());

async function replicaRetries(): Promise<number> {
  const text = (await relay.worker.app.inject({ url: '/metrics' })).body;
  return Number(/^wxim_im_retries_total\{class="replicas"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

t.test('REDIS_WAIT_REPLICAS=1: a push only the primary holds is not relayed until the replica has it, then once', async (t) => {
  const openid = fakeOpenId();
  t.equal((await relay.wechat.push(relay.wechat.text(openid, 'before'))).status, 200);
  await relay.waitForMessages(1, 30_000);

  const push = relay.wechat.sign(relay.wechat.text(openid, 'while the replica is frozen'));
  replica.pause();
  try {
    t.equal((await relay.wechat.post(push)).status, 503, 'the gateway does not acknowledge it');
    // Until the worker held it back, or sent it (what a worker without the check does).
    await eventually('the worker has tried the job', async () => (await replicaRetries()) >= 1 || relay.im.messages.length > 1, 30_000, 100);
    t.same(relay.im.messages.map(textOf), ['before'], 'nothing sent for it while only the primary has it');
  } finally {
    replica.resume();
  }
  await eventually("WeChat's retry is acknowledged once the replica is back", async () => (await relay.wechat.post(push)).status === 200, 30_000, 100);
  await relay.waitForMessages(2, 30_000);
  const idle = async () => Object.values(await relay.worker.queue.getJobCounts('active', 'wait', 'delayed', 'prioritized')).every((n) => n === 0);
  await eventually('the job is done', idle, 30_000, 100);
  t.same(relay.im.messagesBetween(openid).map(textOf), ['before', 'while the replica is frozen'], 'relayed once, in order');
});
