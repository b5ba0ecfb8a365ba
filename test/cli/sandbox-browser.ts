import { existsSync } from 'node:fs';
import { type Page, chromium } from 'playwright-core';
import { launchRelay, startTestRedis, testPrefix } from '@wxim/testkit';

/** Debian's chromium (apt-get install chromium); .ci/run installs it. */
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

interface Test {
  ok(value: unknown, message: string): void;
  teardown(fn: () => unknown): void;
}

/** `npm start` in sandbox mode (with `env` besides) on a Redis of its own (its URL and the QUEUE_PREFIX given), and the sandbox page open in chromium; all ended with the test. */
export async function openSandboxPage(
  t: Test,
  env: Record<string, string> = {},
): Promise<{ page: Page; ports: Awaited<ReturnType<typeof launchRelay>>['ports']; redisUrl: string; prefix: string }> {
  t.ok(existsSync(CHROMIUM), `chromium is installed at ${CHROMIUM}`);
  const redis = await startTestRedis();
  t.teardown(() => redis.close());
  const prefix = testPrefix();
  const relay = await launchRelay({ REDIS_URL: redis.url, QUEUE_PREFIX: prefix, ...env });
  t.teardown(() => {
    relay.child.kill('SIGKILL');
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1160, height: 820 } });
  await page.goto(`http://127.0.0.1:${relay.ports.sandbox}/`);
  return { page, ports: relay.ports, redisUrl: redis.url, prefix };
}
