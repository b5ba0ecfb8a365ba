import { fileURLToPath } from 'node:url';
import t from 'tap';
import { runService } from '@wxim/testkit';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const settings = { IM_SDK_APP_ID: '1400000000', IM_SECRET_KEY: 'a'.repeat(64), IM_AGENTS: 'agent1' };

async function run(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const proc = runService(main, env);
  return { code: await proc.exited, stderr: proc.output().stderr };
}

t.test('an IM origin with a path, a query or plain http to another host stops start-up with one line, exit 78', async (t) => {
  for (const base of ['https://console.tim.qq.com/v4', 'https://console.tim.qq.com/?x=1', 'http://console.tim.qq.com']) {
    const { code, stderr } = await run({ ...settings, IM_API_BASE: base });
    t.equal(code, 78, base);
    t.match(stderr, /^im-worker: configuration error: IM_API_BASE is malformed: a bare https:\/\/ origin/, base);
    t.equal(stderr.trim().split('\n').length, 1, 'one line');
  }
});

t.test('without its IM settings the worker names the first one missing', async (t) => {
  const { code, stderr } = await run({});
  t.equal(code, 78);
  t.match(stderr, /^im-worker: configuration error: IM_SDK_APP_ID is missing/);
});
