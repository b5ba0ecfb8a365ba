import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { textElem } from '@wxim/im';
import { keyPrefix } from '@wxim/queue';
import { stateKeys } from '@wxim/state';
import { Redis } from 'ioredis';
import t from 'tap';
import { eventually, textOf, twoWayForTests } from '@wxim/testkit';

const dir = mkdtempSync(join(tmpdir(), 'canned-'));
writeFileSync(join(dir, 'canned.yaml'), 'hours: We are open Monday to Friday, 9:00 to 18:00.\nbye: Thank you, goodbye!\n');
const relay = await twoWayForTests(t, { env: { CANNED_REPLIES: join(dir, 'canned.yaml') } });
const { im, wechatApi } = relay;
const redis = new Redis(relay.redisUrl);
t.teardown(() => redis.disconnect());
const keys = stateKeys(keyPrefix(relay.env['QUEUE_PREFIX']!, false));

/** A customer who wrote, the agent they reached, and what that agent hears from the relay in their conversation. */
async function conversation() {
  const c = await relay.newCustomer();
  /** The relay's notices to `agent` in this customer's conversation, so far. */
  const notices = (agent = c.agent) =>
    im
      .messagesBetween(c.userId, agent)
      .filter((m) => m.cloudCustomData?.includes('relay-notice'))
      .map(textOf);
  /** Waits for a notice to `agent` matching `pattern`; resolves to its text. */
  const notice = async (pattern: RegExp, agent = c.agent) => {
    await eventually(`a notice ${pattern} to ${agent}`, () => notices(agent).some((n) => pattern.test(n)), 10_000);
    return notices(agent).find((n) => pattern.test(n))!;
  };
  const says = (text: string, agent = c.agent) => im.agentSend(agent, c.userId, [textElem(text)]);
  return { ...c, notices, notice, says };
}

t.test('/help, /r and a bad command answer the agent only; the customer gets the canned text and the replies around them, in order', async (t) => {
  const c = await conversation();
  await c.says('/help');
  await c.says('/r hours');
  await c.says('/r');
  await c.says('/r nope');
  await c.says('/close now');
  await c.says('/help me with this');
  await c.says('//shrug');
  await c.says('That is all.');
  await relay.waitForSent(c.openid, 3);
  t.same(
    relay.textsTo(c.openid),
    ['We are open Monday to Friday, 9:00 to 18:00.', '/shrug', 'That is all.'],
    'only the canned text and the replies reach the customer',
  );
  t.match(await c.notice(/Relay commands/), /\/transfer <agent>.*\n.*\/close.*\n.*\/r <code>/s, '/help lists the commands');
  t.match(await c.notice(/Canned replies/), /hours: We are open.*\nbye: Thank you/s, '/r alone lists the codes');
  t.match(await c.notice(/no canned reply "nope"/), /nothing was sent/);
  t.match(await c.notice(/\/close was not understood/), /expected \/close alone/);
  t.match(await c.notice(/\/help was not understood/), /expected \/help alone/, 'nor is /help with more text sent');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(relay.textsTo(c.openid).length, 3, 'nothing more reached the customer');
});

t.test('/transfer hands the customer on: the new agent reads the conversation so far, the old agent’s later replies come back', async (t) => {
  const c = await conversation();
  // IM's history orders messages of one second by each sender's MsgSeq, not across senders: the reply comes a second later.
  await new Promise((r) => setTimeout(r, 1010 - (Date.now() % 1000)));
  await c.says('Let me check that for you.');
  await relay.waitForSent(c.openid, 1);
  // The customer's own text that reads like a command is what they wrote: the new agent reads it.
  await new Promise((r) => setTimeout(r, 1010 - (Date.now() % 1000)));
  const asked = im.messagesBetween(c.userId, c.agent).length;
  await relay.wechat.push(relay.wechat.text(c.openid, '/close'));
  await eventually('the customer’s text reaches their agent', () => im.messagesBetween(c.userId, c.agent).length > asked, 10_000);
  const next = ['agent_a', 'agent_b', 'agent_c'].find((a) => a !== c.agent)!;
  await c.says(`/transfer ${next}`);
  const intro = await c.notice(/handed this customer to you/, next);
  t.match(
    intro,
    new RegExp(
      `${c.agent} handed this customer to you\\. The conversation so far:\\nCustomer: hello\\n${c.agent}: Let me check that for you\\.\\nCustomer: /close$`,
    ),
    'with the messages both ways, the customer’s “/close” too, not the agent’s command',
  );
  t.match(await c.notice(new RegExp(`Handed to ${next}`)), /not delivered/);
  t.equal(await redis.hget(keys.customer(c.openid), 'agent'), next, 'the customer is the new agent’s');

  const before = im.messagesBetween(c.userId, next).length;
  await relay.wechat.push(relay.wechat.text(c.openid, 'still there?'));
  await eventually('the customer’s next message reaches the new agent', () => im.messagesBetween(c.userId, next).length > before, 10_000);
  t.same(im.messagesBetween(c.userId, next).slice(-1).map(textOf), ['still there?']);

  await c.says('Sorry, one more thing');
  t.match(await c.notice(/“Sorry, one more thing” was not delivered/), new RegExp(`now with ${next}`));
  await im.agentSend(next, c.userId, [textElem('I have it from here.')]);
  await relay.waitForSent(c.openid, 2);
  t.same(relay.textsTo(c.openid), ['Let me check that for you.', 'I have it from here.'], 'the old agent’s late reply never reached the customer');
  const colleague = ['agent_a', 'agent_b', 'agent_c'].find((a) => a !== c.agent && a !== next)!;
  await im.agentSend(colleague, c.userId, [textElem('A colleague here, stepping in.')]);
  await relay.waitForSent(c.openid, 3);
  t.same(relay.textsTo(c.openid).slice(-1), ['A colleague here, stepping in.'], 'an agent who never handed them on may still answer');

  await c.says('/transfer');
  t.match(await c.notice(/\/transfer was not done: this customer is with/), new RegExp(next), 'only the serving agent may hand them on');
});

t.test('/transfer to someone who is not an agent, and /transfer alone when nobody else is free, keep the customer', async (t) => {
  const c = await conversation();
  await c.says('/transfer stranger');
  t.match(await c.notice(/stranger is not one of the agents/), /stays with you/);
  for (const a of ['agent_a', 'agent_b', 'agent_c'].filter((a) => a !== c.agent)) await im.agentLogout(a);
  await c.says('/transfer');
  t.match(await c.notice(/not handed on: no other agent is online/), /stays with you/);
  t.equal(await redis.hget(keys.customer(c.openid), 'agent'), c.agent);
  for (const a of ['agent_a', 'agent_b', 'agent_c']) await im.agentLogin(a);
});

t.test('/transfer whose notice to the new agent IM refuses for good still hands the customer on, and says so to the old agent', async (t) => {
  const c = await conversation();
  const next = ['agent_a', 'agent_b', 'agent_c'].find((a) => a !== c.agent)!;
  // A text IM will not take (its history quote, say): refused for good, whatever is sent to the new agent.
  im.sendRefused.set(next, 80001);
  t.teardown(() => im.sendRefused.clear());
  await c.says(`/transfer ${next}`);
  const handed = await c.notice(new RegExp(`Handed to ${next}`));
  t.match(handed, new RegExp(`IM refused the relay's notice to ${next} \\(80001\\): they were not told`), 'the old agent knows the new one was not told');
  t.equal(await redis.hget(keys.customer(c.openid), 'agent'), next, 'the customer is the new agent’s');
  t.same(
    c.notices().filter((n) => n.includes('was not delivered')),
    [],
    'the /transfer is not reported as undelivered',
  );
  im.sendRefused.clear();
  await im.agentSend(next, c.userId, [textElem('I have it from here.')]);
  await relay.waitForSent(c.openid, 1);
});

t.test('/transfer whose conversation so far IM refuses for good still hands the customer on and tells the new agent, without it', async (t) => {
  const c = await conversation();
  const next = ['agent_a', 'agent_b', 'agent_c'].find((a) => a !== c.agent)!;
  // Only the hand-on's read of the last 48 hours: the command's own confirmation reads the last seconds.
  const hourAgo = Math.floor(Date.now() / 1000) - 3600;
  im.historyRefusedIf = (read) => (read.operator === c.userId && read.minTime < hourAgo ? 90001 : undefined);
  t.teardown(() => (im.historyRefusedIf = undefined));
  await c.says(`/transfer ${next}`);
  t.equal(await c.notice(/handed this customer to you/, next), `↪ Relay notice — ${c.agent} handed this customer to you.`, 'told, with no history');
  t.match(await c.notice(new RegExp(`Handed to ${next}`)), /not delivered\.$/, 'the old agent told it is done, nothing refused');
  t.equal(await redis.hget(keys.customer(c.openid), 'agent'), next, 'the customer is the new agent’s');
  im.historyRefusedIf = undefined;
  await im.agentSend(next, c.userId, [textElem('I have it from here.')]);
  await relay.waitForSent(c.openid, 1);
});

t.test('/close ends the conversation: the agent’s place frees, and the customer’s next message is routed anew', async (t) => {
  const c = await conversation();
  const load = async () => Number(await redis.zscore(keys.agentLoad, c.agent));
  const open = await load();
  await c.says('/close');
  t.match(await c.notice(/Conversation closed/), /next message starts a new one/);
  t.equal(await load(), open - 1, 'one conversation fewer for the agent');
  t.equal(await redis.hget(keys.customer(c.openid), 'counted'), '0');
  await relay.customerWrites(c.openid, 'one more question');
  t.equal(await load(), open, 'the new conversation counts again');
  t.equal(wechatApi.sentTo(c.openid).length, 0, 'nothing of the commands reached the customer');
});
