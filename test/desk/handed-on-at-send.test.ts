import { textElem } from '@wxim/im';
import { keyPrefix } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { Redis } from 'ioredis';
import t from 'tap';
import { AGENTS, eventually, textOf, twoWayForTests } from '@wxim/testkit';

// A customer's message reaches IM, for their agent, in the very moment the agent hands them on
// (the look at who serves them came right before the send; the /transfer lands before IM answers):
// the agent who let the customer go has it, and the new one must have it too, or nobody answers it.
// The IM client waits up to 10 s here, so the late answer is a success, not a timeout and a retry.
const relay = await twoWayForTests(t, { worker: { imTimeoutMs: 10_000 } });
const { im, wechat } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const keys = stateKeys(keyPrefix(relay.env['QUEUE_PREFIX']!, false));

t.test('a message that reached IM in the moment its customer was handed on is relayed again, to the new agent, once', async (t) => {
  const c = await relay.newCustomer();
  const next = AGENTS.find((a) => a !== c.agent)!;
  // The message is stored at once and its answer comes 4 s late (within the IM client's timeout, so
  // the send succeeds, no retry): the worker's look before the send saw the old agent; the
  // /transfer lands while the send waits for its answer.
  im.answerLate('openim/sendmsg', 4000, 1);
  t.teardown(() => im.clearScripted());
  let storedAt = 0;
  const stop = im.onMessage((m) => {
    if (m.from !== c.userId || m.to !== c.agent || textOf(m) !== 'on its way') return;
    stop();
    storedAt = Date.now();
    void im.agentSend(c.agent, c.userId, [textElem(`/transfer ${next}`)]);
  });
  t.teardown(stop);
  t.equal((await wechat.push(wechat.text(c.openid, 'on its way'))).status, 200);
  await eventually('the customer is handed on', async () => (await redis.hget(keys.customer(c.openid), 'agent')) === next);
  t.ok(storedAt > 0 && Date.now() - storedAt < 3500, 'handed on while the send was still waiting for its answer');
  const own = (agent: string) => im.messagesBetween(c.userId, agent).filter((m) => !m.cloudCustomData?.includes('relay-notice'));
  await eventually('the message reaches the new agent', () => own(next).some((m) => textOf(m) === 'on its way'), 15_000);
  t.same(own(next).map(textOf), ['on its way'], 'the new agent has it, once');
  t.same(own(c.agent).map(textOf), ['hello', 'on its way'], 'the old agent had it when it reached IM (nothing sent to them again)');
  await wechat.push(wechat.text(c.openid, 'after'));
  await eventually('the next message follows', () => own(next).length === 2);
  t.same(own(next).map(textOf), ['on its way', 'after'], 'in order, to the new agent');
});

t.test('a message handed on at its send goes again from the front of the queue, not behind a backlog of other customers', async (t) => {
  const c = await relay.newCustomer();
  const next = AGENTS.find((a) => a !== c.agent)!;
  const others = await Promise.all(Array.from({ length: 10 }, () => relay.newCustomer()));
  // Over 13 s of IM's pace, stored within the 8 s the answer is late: much of it still waits when the hand-on is seen.
  const BACKLOG = 2400;
  im.answerLate('openim/sendmsg', 8000, 1);
  t.teardown(() => im.clearScripted());
  const backlogAt: number[] = [];
  const stopBacklog = im.onMessage((m) => {
    if (textOf(m).startsWith('backlog ')) backlogAt.push(Date.now());
  });
  t.teardown(stopBacklog);
  let stored: Promise<unknown> | undefined;
  const stop = im.onMessage((m) => {
    if (m.from !== c.userId || m.to !== c.agent || textOf(m) !== 'before the backlog') return;
    stop();
    // While its answer is late: the hand-on (first, so that it surely lands before the answer),
    // then a backlog from other customers.
    stored = (async () => {
      await im.agentSend(c.agent, c.userId, [textElem(`/transfer ${next}`)]);
      const pushed = await Promise.all(Array.from({ length: BACKLOG }, (_, i) => wechat.push(wechat.text(others[i % others.length]!.openid, `backlog ${i}`))));
      t.ok(
        pushed.every((p) => p.status === 200),
        'the backlog is stored',
      );
    })();
  });
  t.teardown(stop);
  t.equal((await wechat.push(wechat.text(c.openid, 'before the backlog'))).status, 200);
  await eventually('the backlog and the hand-on are in', async () => stored !== undefined && (await stored, true), 15_000);
  const own = (agent: string) => im.messagesBetween(c.userId, agent).filter((m) => !m.cloudCustomData?.includes('relay-notice'));
  await eventually('the message reaches the new agent', () => own(next).some((m) => textOf(m) === 'before the backlog'), 30_000);
  const relayedAgainAt = Date.now();
  const backlogBefore = backlogAt.filter((at) => at <= relayedAgainAt).length;
  t.ok(backlogBefore < BACKLOG, `relayed again while the backlog was still going (${backlogBefore} of ${BACKLOG} before it)`);
  await eventually('the backlog drains', () => backlogAt.length === BACKLOG, 30_000);
});
