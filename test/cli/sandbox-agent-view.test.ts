import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { openSandboxPage } from './sandbox-browser.js';

/** Where the screenshot goes; docs/sandbox-agent-view.png is one of these. */
const SCREENSHOT = process.env['SANDBOX_SCREENSHOT'] ?? join(tmpdir(), `sandbox-agent-view-${process.pid}.png`);

/** An undo time long enough to press Recall on a busy machine, short enough to wait out. */
const UNDO_MS = 4000;

t.test("the sandbox page shows the agent the customer's side: voice, video, emoji, typing, delivery marks, undo, the window", async (t) => {
  const { page } = await openSandboxPage(t, { REPLY_UNDO_MS: String(UNDO_MS) });
  const customerChat = page.getByLabel('Customer chat');
  const agentChat = page.getByLabel('Agent chat');

  // WeChat's face codes reach the agent as emoji.
  await page.getByLabel('Customer message').fill('Hello /::) [Facepalm]');
  await page.getByLabel('Customer message').press('Enter');
  await agentChat.locator('.from-customer', { hasText: 'Hello 🙂 🤦' }).waitFor();
  t.pass('the face codes are shown as emoji');

  // A voice message: converted by the relay, served by the gateway's signed link, played by the browser.
  await page.locator('.wechat').getByRole('button', { name: 'Send voice' }).click();
  const voice = agentChat.locator('.from-customer', { hasText: '[voice message, 2 s]' });
  await voice.waitFor();
  t.match(await voice.textContent(), /a two-second tone/, "WeChat's transcript beside it");
  const seconds = await voice.locator('audio').evaluate(
    (audio) =>
      new Promise<number>((resolve, reject) => {
        const a = audio as unknown as { duration: number; readyState: number; addEventListener(e: string, f: () => void): void; load(): void };
        if (a.readyState >= 1) return resolve(a.duration);
        a.addEventListener('loadedmetadata', () => resolve(a.duration));
        a.addEventListener('error', () => reject(new Error('the sound did not load')));
        a.load();
      }),
  );
  t.ok(seconds > 1.5 && seconds < 2.6, `the browser plays the sound: ${seconds.toFixed(2)} s`);

  // A video: the player with its thumbnail as the poster, both from the gateway.
  await page.locator('.wechat').getByRole('button', { name: 'Send video' }).click();
  const video = agentChat.locator('.from-customer video');
  await video.waitFor();
  const links = await video.evaluate((v) => ({ src: (v as unknown as { src: string }).src, poster: (v as unknown as { poster: string }).poster }));
  t.match(links, { src: /\/media\//, poster: /\/media\// }, 'the video and its thumbnail are the relay’s signed links');
  const poster = await page.evaluate(
    (url) =>
      new Promise<number>((resolve, reject) => {
        // Runs in the page (the tests' types have no DOM).
        type Img = { naturalWidth: number; src: string; onload: () => void; onerror: () => void };
        const img = new (globalThis as unknown as { Image: new () => Img }).Image();
        img.onload = () => resolve(img.naturalWidth);
        img.onerror = () => reject(new Error('the thumbnail did not load'));
        img.src = url;
      }),
    links.poster,
  );
  t.equal(poster, 160, 'the browser shows the thumbnail');
  const clip = await request(links.src);
  t.equal(clip.statusCode, 200, 'the video streams from the gateway');
  t.equal(clip.headers['content-type'], 'video/mp4', 'as MP4');
  await clip.body.dump();

  // The agent types: WeChat shows the customer "typing…"; the reply ends it and is marked delivered.
  await page.getByLabel('Agent reply').fill('Let me check');
  await page.locator('#customer-typing').waitFor({ state: 'visible' });
  t.pass('the customer sees the account typing');
  await page.getByLabel('Agent reply').press('Enter');
  await customerChat.locator('.from-business', { hasText: 'Let me check' }).waitFor({ timeout: UNDO_MS + 20_000 });
  await page.locator('#customer-typing').waitFor({ state: 'hidden' });
  const mark = agentChat.locator('.from-agent', { hasText: 'Let me check' }).locator('.mark');
  await agentChat.locator('.from-agent', { hasText: 'Let me check' }).locator('.mark-delivered').waitFor();
  t.equal(await mark.textContent(), '✓', 'the reply is marked delivered on the agent’s own message');

  // Undo in time: the agent recalls a reply still waiting for its undo time; it never reaches the customer.
  await page.getByLabel('Agent reply').fill('Wrong customer, sorry');
  await page.getByLabel('Agent reply').press('Enter');
  const mistaken = agentChat.locator('.from-agent', { hasText: 'Wrong customer, sorry' });
  await mistaken.getByRole('button', { name: 'Recall' }).click();
  await agentChat.locator('.from-relay', { hasText: 'the message you recalled was stopped' }).waitFor();
  await mistaken.locator('.note', { hasText: 'recalled' }).waitFor();
  // The next reply goes through, after the stopped one.
  await page.getByLabel('Agent reply').fill('Your parcel arrives tomorrow.');
  await page.getByLabel('Agent reply').press('Enter');
  await customerChat.locator('.from-business', { hasText: 'Your parcel arrives tomorrow.' }).waitFor({ timeout: UNDO_MS + 20_000 });
  t.equal(await customerChat.getByText('Wrong customer, sorry').count(), 0, 'the recalled reply never reached the customer');

  // Undo too late: WeChat has no recall, and the agent is told the customer has it.
  await agentChat.locator('.from-agent', { hasText: 'Let me check' }).getByRole('button', { name: 'Recall' }).click();
  await agentChat.locator('.from-relay', { hasText: 'WeChat has no recall' }).waitFor();
  t.pass('a recall after delivery brings the notice that the customer already has it');
  // The window, visible: two replies went since the customer's video; the fifth is the last WeChat allows.
  for (const text of ['One more thing', 'And another', 'Last one']) {
    await page.getByLabel('Agent reply').fill(text);
    await page.getByLabel('Agent reply').press('Enter');
  }
  await customerChat.locator('.from-business', { hasText: 'Last one' }).waitFor({ timeout: 3 * UNDO_MS + 20_000 });
  await agentChat.locator('.from-relay', { hasText: 'that was the last reply WeChat allows until the customer writes again' }).waitFor();
  await page.locator('#window-status', { hasText: '0 replies left' }).waitFor();
  t.pass('the agent is told when a reply used the last of the window');
  t.equal(await page.locator('#problem').textContent(), '', 'no error shown');

  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  t.same([...readFileSync(SCREENSHOT).subarray(1, 4)], [...Buffer.from('PNG')], `a screenshot saved at ${SCREENSHOT}`);
});
