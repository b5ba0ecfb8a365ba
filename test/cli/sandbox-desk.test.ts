import { decodeRelayCustomData } from '@wxim/im';
import type { ReceivedMessage } from '@wxim/sandbox';
import t from 'tap';
import { openSandboxPage } from './sandbox-browser.js';
import { request } from 'undici';

t.test('the sandbox page shows the desk: with every agent logged out a customer waits, and logging one in serves them', async (t) => {
  const { page, ports } = await openSandboxPage(t);
  const { sandbox } = ports;

  const agents = page.getByLabel('Agents');
  const waiting = page.getByLabel('Waiting for an agent');
  const agentChat = page.getByLabel('Agent chat');
  const customerChat = page.getByLabel('Customer chat');

  // Agents IM has said nothing about count as online.
  for (const agent of ['agent1', 'agent2']) {
    await agents.locator(`[data-agent="${agent}"]`, { hasText: 'online (IM has sent no state yet) · 0 open conversations' }).waitFor();
    t.ok(await page.getByLabel(`${agent} logged in`).isChecked(), `${agent}'s switch is on`);
  }

  // Both log out with their switches: IM tells im-callback, and the desk shows what it recorded.
  for (const agent of ['agent1', 'agent2']) {
    await page.getByLabel(`${agent} logged in`).uncheck();
    await agents.locator(`[data-agent="${agent}"]`, { hasText: 'logged out' }).waitFor();
    t.notOk(await page.getByLabel(`${agent} logged in`).isChecked(), `${agent}'s switch stays off`);
  }
  await page.locator('#waiting-count', { hasText: 'nobody' }).waitFor();

  // A customer writes: nobody can answer, so the conversation waits and the customer is told so.
  const openid = await page.evaluate<string>("localStorage.getItem('sandbox-openid')");
  await page.getByLabel('Customer message').fill('Is anyone there?');
  await page.getByLabel('Customer message').press('Enter');
  await customerChat.locator('.from-business', { hasText: 'All our agents are busy right now' }).waitFor();
  await waiting.locator(`[data-openid="${openid}"]`, { hasText: '(this customer) since' }).waitFor();
  t.equal(await page.locator('#waiting-count').textContent(), '1', 'one customer waits');
  // The page lists them once their job has looked for an agent and found none: by then it sent nothing.
  const inIm = async () =>
    ((await (await request(`http://127.0.0.1:${sandbox + 1}/sim/messages`)).body.json()) as ReceivedMessage[]).filter((m) => {
      const data = decodeRelayCustomData(m.cloudCustomData);
      return data?.source === 'wechat' && data.openid === openid;
    });
  t.same(await inIm(), [], 'the waiting message reached no agent in IM');
  t.equal(await agentChat.locator('.from-customer').count(), 0, 'and shows in no agent pane');

  // agent2 logs in with the switch: the waiting conversation goes on at once, to them.
  await page.getByLabel('agent2 logged in').check();
  await agents.locator('[data-agent="agent2"]', { hasText: 'logged in · 1 open conversation' }).waitFor();
  await agentChat.locator('.from-customer', { hasText: 'Is anyone there?' }).waitFor();
  t.equal(await page.getByLabel('Agent', { exact: true }).inputValue(), 'agent2', "the agent pane follows the customer to agent2's");
  await page.locator('#waiting-count', { hasText: 'nobody' }).waitFor();
  t.equal(await waiting.locator('li').count(), 0, 'the waiting list is empty');
  t.same(
    (await inIm()).map((m) => m.to),
    ['agent2'],
    'the message reached agent2, once',
  );
  t.ok(await agents.locator('[data-agent="agent1"]', { hasText: 'logged out · 0 open conversations' }).isVisible(), 'agent1 stays logged out, with none');

  // A command's answer comes back to the agent as a relay notice in their pane.
  await page.getByLabel('Agent reply').fill('/help');
  await page.getByLabel('Agent reply').press('Enter');
  await agentChat.locator('.from-relay', { hasText: '/transfer' }).waitFor();
  t.equal(await page.locator('#problem').textContent(), '', 'no error shown');
});
