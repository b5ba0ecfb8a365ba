import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { DeliveredMessage, SimulatorStats } from '@wxim/sandbox';
import t from 'tap';
import { openSandboxPage } from './sandbox-browser.js';
import { request } from 'undici';
import { eventually } from '@wxim/testkit';

/** Where the screenshot goes; the README's docs/sandbox-page.png is one of these. */
const SCREENSHOT = process.env['SANDBOX_SCREENSHOT'] ?? join(tmpdir(), `sandbox-page-${process.pid}.png`);

const json = async <T>(url: string): Promise<T> => (await (await request(url)).body.json()) as T;

t.test('the sandbox page: a customer message reaches the agent, the reply reaches the customer, a closed window brings a notice', async (t) => {
  const { page, ports } = await openSandboxPage(t);
  const { sandbox, dashboard } = ports;

  const customerChat = page.getByLabel('Customer chat');
  const agentChat = page.getByLabel('Agent chat');

  // The customer follows: the welcome comes back as the passive reply, and the agent sees the follow.
  await page.getByRole('button', { name: 'Follow', exact: true }).click();
  await customerChat.locator('.from-business', { hasText: 'thank you for following us' }).waitFor();
  await agentChat.locator('.from-customer', { hasText: '[followed the Official Account]' }).waitFor();

  // The customer writes and presses Enter; the message travels gateway → queue → im-worker → IM.
  await page.getByLabel('Customer message').fill('Where is my parcel?');
  await page.getByLabel('Customer message').press('Enter');
  await customerChat.locator('.from-customer', { hasText: 'Where is my parcel?' }).waitFor();
  await agentChat.locator('.from-customer', { hasText: 'Where is my parcel?' }).waitFor();
  t.equal(await page.getByLabel('Customer message').inputValue(), '', 'the box is emptied once sent');
  const servedBy = await page.getByLabel('Agent', { exact: true }).inputValue();
  t.match(await page.locator('#served-by').textContent(), /Serving customer/, `the agent pane follows the agent who serves the customer (${servedBy})`);
  await customerChat.locator('.from-customer', { hasText: `reached ${servedBy} in IM` }).waitFor();

  // The agent answers with the Send button; IM calls im-callback, the pusher sends it through WeChat.
  await page.getByLabel('Agent reply').fill('It arrives tomorrow.');
  await page.locator('#agent-form').getByRole('button', { name: 'Send' }).click();
  await agentChat.locator('.from-agent', { hasText: 'It arrives tomorrow.' }).waitFor();
  await customerChat.locator('.from-business', { hasText: 'It arrives tomorrow.' }).waitFor();
  // Photos both ways and a location: real image bytes through media upload, shown in both panes.
  await page.locator('.im').getByRole('button', { name: 'Send photo' }).click();
  const photo = customerChat.locator('.from-business img');
  await photo.waitFor();
  await eventually('the photo is loaded', () =>
    photo.evaluate((img) => {
      const { complete, naturalWidth } = img as unknown as { complete: boolean; naturalWidth: number };
      return complete && naturalWidth > 0;
    }),
  );
  t.pass("the agent's photo reached the customer as an image");
  await page.locator('.wechat').getByRole('button', { name: 'Send location' }).click();
  await agentChat.locator('.from-customer', { hasText: '[location] Shenzhen Bay Park' }).waitFor();

  const openid = await page.evaluate<string>("localStorage.getItem('sandbox-openid')");
  const sent = await json<DeliveredMessage[]>(`http://127.0.0.1:${sandbox + 2}/sim/sent`);
  t.same(
    sent.filter((m) => m.openid === openid).map((m) => m.msgtype),
    ['text', 'image'],
    'WeChat delivered the text and the photo to this customer, each once',
  );

  // The 48-hour window closes: the next reply is refused by WeChat and the agent gets a relay notice.
  await page.getByLabel("Customer's 48 h window closed").check();
  await page.locator('#window-status', { hasText: 'window closed' }).waitFor();
  await page.getByLabel('Agent reply').fill('Anything else?');
  await page.getByLabel('Agent reply').press('Enter');
  const notice = agentChat.locator('.from-relay', { hasText: 'Anything else?' });
  await notice.waitFor();
  t.match(await notice.textContent(), /was not delivered: the customer's 48-hour window has closed/, 'the notice says why, in words');
  t.equal(await customerChat.getByText('Anything else?').count(), 0, 'the customer never got it');

  // IM failing every call: the customer's message waits and is retried; once IM recovers it arrives.
  await page.getByLabel('Share of IM calls that fail').selectOption('100');
  await page.getByLabel('Customer message').fill('Hello again');
  await page.getByLabel('Customer message').press('Enter');
  await eventually(
    'IM has failed a call of the relay',
    async () => Object.values((await json<SimulatorStats>(`http://127.0.0.1:${sandbox + 1}/sim/stats`)).faults).some((n) => n > 0),
    45_000,
  );
  await page.locator('#im-failure-count', { hasText: 'retried by the relay' }).waitFor();
  await page.getByLabel('Share of IM calls that fail').selectOption('0');
  // The retry comes after a backoff of about 1 s, then 2 s, 4 s…: room for a busy machine.
  await agentChat.locator('.from-customer', { hasText: 'Hello again' }).waitFor({ timeout: 45_000 });
  t.notOk(await page.getByLabel("Customer's 48 h window closed").isChecked(), "the customer's message opened the window again");

  t.equal(await page.getByRole('link', { name: /Queue dashboard/ }).getAttribute('href'), `http://127.0.0.1:${dashboard}/`, 'the dashboard link');
  t.equal(await page.locator('#problem').textContent(), '', 'no error shown');

  await mkdir(dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  t.same([...readFileSync(SCREENSHOT).subarray(1, 4)], [...Buffer.from('PNG')], `a screenshot saved at ${SCREENSHOT}`);

  // Markup is shown as the text it is, in both panes, never as markup.
  const markup = '<img src=x onerror="document.title=1"><b>bold?</b>';
  await page.getByLabel('Customer message').fill(markup);
  await page.getByLabel('Customer message').press('Enter');
  const shown = agentChat.locator('.from-customer', { hasText: 'bold?</b>' });
  await shown.waitFor();
  t.equal(await shown.locator('.text').textContent(), markup, 'the agent sees the text as typed');
  t.equal(await page.locator('.chat b, .chat img[src="x"]').count(), 0, 'no element made of it');
  t.not(await page.title(), '1', 'no script of it ran');
});
