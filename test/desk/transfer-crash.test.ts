import { fileURLToPath } from 'node:url';
import { textElem } from '@wxim/im';
import { keyPrefix } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { Redis } from 'ioredis';
import t from 'tap';
import { AGENTS, eventually, freePort, runService, startWorkerProcess, textOf, twoWayForTests, whenReady } from '@wxim/testkit';

// The pusher runs as its own process, so that it can be killed in the middle of a /transfer.
const PUSHER = fileURLToPath(new URL('../../services/wechat-pusher/dist/main.js', import.meta.url));
// The relay's own workers check for stalled jobs every 2 s: BullMQ lets one worker of a queue check
// at a time, for its own interval, so a worker at the default 30 s would hold the killed
// process's job up to 30 s before the fast one may take it over.
const relay = await twoWayForTests(t, { startPusher: false, env: { WORKER_STALL_MS: '2000' } });
const { im } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const keys = stateKeys(keyPrefix(relay.env['QUEUE_PREFIX']!, false));
// A dead process's jobs are taken over within a second or two.
const FAST_TAKEOVER = { WORKER_STALL_MS: '1000' };

async function pusherProcess() {
  const port = await freePort();
  const proc = runService(PUSHER, { ...relay.env, ...FAST_TAKEOVER, PUSHER_PORT: String(port) });
  await whenReady(port, proc.child);
  t.teardown(() => void proc.child.kill('SIGTERM'));
  return proc;
}

const notices = (userId: string, agent: string) =>
  im
    .messagesBetween(userId, agent)
    .filter((m) => m.cloudCustomData?.includes('relay-notice'))
    .map(textOf);
/** What the customer's IM account said to `agent` that was the customer's own words (not the relay's notices). */
const customerWords = (userId: string, agent: string) =>
  im
    .messagesBetween(userId, agent)
    .filter((m) => !m.cloudCustomData?.includes('relay-notice'))
    .map(textOf);
const load = async (agent: string) => Number(await redis.zscore(keys.agentLoad, agent));

t.test('a pusher killed after /transfer moved the customer, before the notices: once each, and nothing lost or misdirected', async (t) => {
  const dying = await pusherProcess();
  const c = await relay.newCustomer();
  const next = AGENTS.find((a) => a !== c.agent)!;
  // IM's history orders one second's messages by each sender's MsgSeq, not across senders: the reply comes a second later.
  await new Promise((r) => setTimeout(r, 1010 - (Date.now() % 1000)));
  await im.agentSend(c.agent, c.userId, [textElem('Let me check that for you.')]);
  await relay.waitForSent(c.openid, 1);
  const loads = { from: await load(c.agent), to: await load(next) };

  // IM's history answers late: the pusher confirms the command, moves the customer, then waits
  // for the conversation so far to show the new agent; it dies there, before any notice.
  im.answerLate('openim/admin_getroammsg', 3000, 20);
  await im.agentSend(c.agent, c.userId, [textElem(`/transfer ${next}`)]);
  await eventually('the transfer is recorded', async () => (await redis.hget(keys.customer(c.openid), 'agent')) === next);
  dying.child.kill('SIGKILL');
  await dying.exited;
  t.same([notices(c.userId, next), notices(c.userId, c.agent)], [[], []], 'killed before either notice');
  im.clearScripted();

  await pusherProcess();
  await eventually('the new agent is told', () => notices(c.userId, next).length > 0, 15_000);
  await eventually('the old agent is told', () => notices(c.userId, c.agent).length > 0, 15_000);
  // The new agent's reply comes after the command in the customer's reply line: once it is
  // delivered, the command's job is done.
  await im.agentSend(next, c.userId, [textElem('I have it from here.')]);
  await relay.waitForSent(c.openid, 2);
  t.match(
    notices(c.userId, next),
    [/handed this customer to you\. The conversation so far:\nCustomer: hello\n.*Let me check that for you\.$/],
    'the new agent told once',
  );
  t.match(notices(c.userId, c.agent), [new RegExp(`Handed to ${next}`)], 'the old agent told once');
  t.same({ from: await load(c.agent), to: await load(next) }, { from: loads.from - 1, to: loads.to + 1 }, 'the conversation moved once');

  await relay.wechat.push(relay.wechat.text(c.openid, 'still there?'));
  await eventually('the customer’s next message reaches the new agent', () => customerWords(c.userId, next).length === 1);
  await im.agentSend(c.agent, c.userId, [textElem('One more thing')]);
  await eventually('the old agent’s late reply comes back to them', () => notices(c.userId, c.agent).length === 2);
  t.same(customerWords(c.userId, next), ['still there?'], 'the new agent has the message, once');
  t.same(customerWords(c.userId, c.agent), ['hello'], 'the old agent has nothing after the transfer');
  t.same(relay.textsTo(c.openid), ['Let me check that for you.', 'I have it from here.'], 'the customer got each reply of the serving agent, once');
});

t.test('an im-worker killed while relaying a message right after a transfer: it reaches the new agent, once', async (t) => {
  await pusherProcess();
  const c = await relay.newCustomer();
  const next = AGENTS.find((a) => a !== c.agent)!;
  await im.agentSend(c.agent, c.userId, [textElem(`/transfer ${next}`)]);
  await eventually('both agents are told', () => notices(c.userId, next).length === 1 && notices(c.userId, c.agent).length === 1);

  // From here the customer's messages are relayed by im-worker processes of their own. The
  // relay's worker is closed, not paused: a paused BullMQ worker still takes the job its waiting
  // fetch brings back, and then no process of ours would be the one killed.
  await relay.worker.worker.close();
  let worker = await startWorkerProcess({ ...relay.env, ...FAST_TAKEOVER });
  const dropped = im.stats.duplicatesDropped;
  // IM takes the message at once and answers late: the worker dies before it hears IM took it.
  im.answerLate('openim/sendmsg', 3000, 1);
  await relay.wechat.push(relay.wechat.text(c.openid, 'are you the new one?'));
  await eventually('IM has the message', () => customerWords(c.userId, next).length === 1);
  worker.child.kill('SIGKILL');
  await worker.exited;

  worker = await startWorkerProcess({ ...relay.env, ...FAST_TAKEOVER });
  t.teardown(() => worker.stop());
  await relay.wechat.push(relay.wechat.text(c.openid, 'hello again'));
  await eventually('the next message follows it', () => customerWords(c.userId, next).length === 2, 15_000);
  t.same(customerWords(c.userId, next), ['are you the new one?', 'hello again'], 'each once, in order, to the new agent');
  t.same(customerWords(c.userId, c.agent), ['hello'], 'nothing to the old agent');
  t.ok(im.stats.duplicatesDropped > dropped, 'the takeover sent it again, and IM dropped the repeat');
});
