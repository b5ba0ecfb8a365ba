import { QUEUES } from '@wxim/queue';
import { type ReceivedMessage, SANDBOX, WechatPlatform, fakeOpenId } from '@wxim/sandbox';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import t from 'tap';
import { request } from 'undici';
import { eventually, launchRelay, startTestRedis, testPrefix } from '@wxim/testkit';

const redis = await startTestRedis();
t.teardown(() => redis.close());

t.test("npm start in sandbox mode beside a real deployment's Redis leaves the deployment's queue alone", async (t) => {
  // A deployment's queue, with a push waiting in it, under the prefix the sandbox is configured with.
  const prefix = testPrefix();
  const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  const deployment = new Queue(QUEUES.wechatInbound, { connection, prefix });
  t.teardown(async () => {
    await deployment.close();
    connection.disconnect();
  });
  await deployment.add('text', { message: { kind: 'text' }, receivedAt: Date.now() }, { jobId: 'm-a-real-customer-1' });

  const relay = await launchRelay({ REDIS_URL: redis.url, QUEUE_PREFIX: prefix });
  t.teardown(() => {
    relay.child.kill('SIGKILL');
  });
  const { gateway: gatewayPort, dashboard: dashboardPort, sandbox: sandboxPort } = relay.ports;
  const stdout = relay.output().stdout;
  t.match(stdout, new RegExp(`keys under the prefix ${prefix}-sandbox`), 'it says which prefix it uses');
  const board = await request(`http://127.0.0.1:${dashboardPort}/api/queues`);
  t.equal(board.statusCode, 200, 'the dashboard runs too, open on loopback without a password');
  await board.body.dump();

  const wechat = new WechatPlatform({
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    token: SANDBOX.token,
    appId: SANDBOX.appId,
    encodingAesKey: SANDBOX.encodingAesKey,
    accountId: SANDBOX.accountId,
    mode: 'safe',
    apiSimulatorUrl: `http://127.0.0.1:${sandboxPort + 2}`,
  });
  t.equal((await wechat.push(wechat.text(fakeOpenId(), 'hello sandbox'))).status, 200);
  let messages: ReceivedMessage[] = [];
  await eventually('the simulated agent has the sandbox message', async () => {
    messages = (await (await request(`http://127.0.0.1:${sandboxPort + 1}/sim/messages`)).body.json()) as ReceivedMessage[];
    return messages.length > 0;
  });
  t.same(
    messages.map((m) => m.body[0]?.MsgContent['Text']),
    ['hello sandbox'],
    'only the sandbox push reached the simulator',
  );
  t.equal(await (await deployment.getJob('m-a-real-customer-1'))?.getState(), 'waiting', "the deployment's push still waits for its own worker");

  // The agent answers (as `npm run sandbox:reply` does): the reply reaches the customer through the simulated WeChat API.
  const answer = await request(`http://127.0.0.1:${sandboxPort + 1}/sim/agent-send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      From_Account: messages[0]!.to,
      To_Account: messages[0]!.from,
      MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'hello customer' } }],
    }),
  });
  t.equal(answer.statusCode, 200);
  await answer.body.dump();
  await eventually('the reply reaches the customer', async () => {
    const sent = (await (await request(`http://127.0.0.1:${sandboxPort + 2}/sim/sent`)).body.json()) as { payload: { content?: string } }[];
    return sent.some((m) => m.payload.content === 'hello customer');
  });
  relay.child.kill('SIGTERM');
  t.equal(await relay.exited, 0, 'a clean exit');
});
