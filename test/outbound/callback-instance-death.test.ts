import { fileURLToPath } from 'node:url';
import { textElem } from '@wxim/im';
import { stateKeys } from '@wxim/state';
import { CALLBACK_TOKEN, type ServiceProcess, eventually, freePort, runService, twoWayForTests, whenReady } from '@wxim/testkit';
import { Redis } from 'ioredis';
import t from 'tap';

const MAIN = fileURLToPath(new URL('../../services/im-callback/dist/main.js', import.meta.url));
const relay = await twoWayForTests(t);
const { im } = relay;

/** im-callback as deployed: its own process, its default heartbeat (2 s), on `port`, and IM calling it back there. */
async function instance(port: number): Promise<ServiceProcess> {
  const proc = runService(MAIN, { ...relay.env, CALLBACK_PORT: String(port), LOG_LEVEL: 'silent' });
  t.teardown(() => {
    proc.child.kill('SIGKILL');
  });
  await whenReady(port, proc.child);
  im.setCallback(`http://127.0.0.1:${port}/im/callback`, CALLBACK_TOKEN);
  return proc;
}

/** A new customer whose agent's first reply (`text`) reached them through the instance IM calls now. */
async function answered(text: string): Promise<{ openid: string; userId: string; agent: string }> {
  const c = await relay.newCustomer();
  await im.agentSend(c.agent, c.userId, [textElem(text)]);
  await relay.waitForSent(c.openid, 1);
  return c;
}

const texts = relay.textsTo;

t.test('one replica of two is killed: the callbacks it was answering are found while the other keeps the fleet alive', async (t) => {
  const port = await freePort();
  const doomed = await instance(port);
  const c = await answered('answered by the doomed replica');

  doomed.child.kill('SIGKILL'); // out of memory, its node lost: no clean stop
  await doomed.exited;
  const lost = [await im.agentSend(c.agent, c.userId, [textElem('lost 1')]), await im.agentSend(c.agent, c.userId, [textElem('lost 2')])];
  t.same(
    lost.map((r) => r.delivered),
    [false, false],
    'IM could not call back, and never tries again',
  );
  // The load balancer takes the dead replica out; the other replica (in this process) takes the callbacks from now on.
  im.setCallback(relay.callbackUrl, CALLBACK_TOKEN);
  await relay.waitForSent(c.openid, 3, 30_000);
  t.same(texts(c.openid), ['answered by the doomed replica', 'lost 1', 'lost 2'], "found in IM's history, in the order the agent sent them, once each");
});

t.test('the only instance is killed and started again within a beat: the replies sent meanwhile arrive', async (t) => {
  await relay.callback.close(); // one instance, as in a small deployment
  const port = await freePort();
  const first = await instance(port);
  const c = await answered('before the crash');

  // Killed right after a beat, as the restart comes within the next: the fleet's heartbeat never looks stale.
  const redis = new Redis(relay.redisUrl);
  t.teardown(() => redis.disconnect());
  const heartbeat = stateKeys(relay.env['QUEUE_PREFIX']!).callbackHeartbeat;
  const beat = await redis.get(heartbeat);
  await eventually('a beat', async () => (await redis.get(heartbeat)) !== beat, 5000, 5);
  first.child.kill('SIGKILL');
  await first.exited;
  await im.agentSend(c.agent, c.userId, [textElem('while it was down 1')]);
  await im.agentSend(c.agent, c.userId, [textElem('while it was down 2')]);
  await new Promise((r) => setTimeout(r, 500));
  await instance(port);

  await relay.waitForSent(c.openid, 3, 30_000);
  t.same(texts(c.openid), ['before the crash', 'while it was down 1', 'while it was down 2']);
  await im.agentSend(c.agent, c.userId, [textElem('after')]);
  await relay.waitForSent(c.openid, 4);
  t.same(texts(c.openid).slice(3), ['after'], 'nothing doubled, and the next reply follows');
});
