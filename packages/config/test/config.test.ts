import { ConfigError, DEFAULT_WELCOME_TEXT, isSandbox, loadConfig, requireSettings } from '@wxim/config';
import t from 'tap';

const good = {
  WECHAT_TOKEN: 'tokentoken',
  WECHAT_APP_ID: 'wx0123456789abcdef',
  WECHAT_APP_SECRET: '0123456789abcdef0123456789abcdef',
  WECHAT_ENCODING_AES_KEY: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  IM_SDK_APP_ID: '1400000000',
  IM_SECRET_KEY: 'a'.repeat(64),
  IM_AGENTS: 'agent1, agent2,agent1',
};

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return 'no error';
}

t.test('defaults of the design card with an empty environment, which is sandbox mode', async (t) => {
  const c = loadConfig({});
  t.equal(c.redisUrl, 'redis://127.0.0.1:6379');
  t.equal(c.queuePrefix, 'wxim');
  t.same(c.ports, { gateway: 3000, callback: 3001, dashboard: 3002, imWorker: 9101, pusher: 9102, sandbox: 3003 });
  t.equal(c.im.admin, 'administrator');
  t.equal(c.wechat.apiBase, 'https://api.weixin.qq.com');
  t.equal(c.im.apiBase, 'https://console.tim.qq.com');
  t.equal(c.welcomeText, DEFAULT_WELCOME_TEXT);
  t.equal(c.onUnsubscribe, 'delete');
  t.equal(c.logLevel, 'info');
  t.ok(isSandbox(c));
});

t.test('a full environment parses, agents trimmed and deduplicated', async (t) => {
  const c = loadConfig(good);
  t.equal(c.im.sdkAppId, 1400000000);
  t.same(c.im.agents, ['agent1', 'agent2']);
  t.notOk(isSandbox(c));
  t.ok(isSandbox(loadConfig({ ...good, SANDBOX: '1' })), 'SANDBOX=1 forces it');
  t.equal(loadConfig({ WELCOME_TEXT: '' }).welcomeText, '', 'an empty welcome disables it');
});

t.test('a malformed value names the variable and what a valid one looks like, in one line', async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ WECHAT_ENCODING_AES_KEY: 'short' }, /^WECHAT_ENCODING_AES_KEY is malformed: 43 letters and digits/],
    [{ WECHAT_TOKEN: 'a' }, /^WECHAT_TOKEN is malformed: 3 to 32 letters and digits/],
    [{ WECHAT_APP_ID: 'app' }, /^WECHAT_APP_ID is malformed: .*"wx" and 16/],
    [{ REDIS_URL: 'localhost:6379' }, /^REDIS_URL is malformed: a redis: or rediss: URL/],
    [{ GATEWAY_PORT: '70000' }, /^GATEWAY_PORT is malformed: a TCP port/],
    [{ IM_SDK_APP_ID: 'abc' }, /^IM_SDK_APP_ID is malformed/],
    [{ IM_AGENTS: 'ok,not ok' }, /^IM_AGENTS is malformed: comma-separated/],
    [{ ON_UNSUBSCRIBE: 'purge' }, /^ON_UNSUBSCRIBE is malformed: one of delete, keep/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL is malformed/],
    [{ REDIS_CLUSTER: 'maybe' }, /^REDIS_CLUSTER is malformed: 1 or 0/],
    [{ WELCOME_TEXT: 'x'.repeat(3000) }, /^WELCOME_TEXT is too long/],
  ];
  for (const [env, expected] of cases) {
    const message = errorOf(() => loadConfig(env));
    t.match(message, expected, Object.keys(env)[0]!);
    t.notMatch(message, /\n/);
  }
});

t.test('a service names what it cannot run without', async (t) => {
  t.match(
    errorOf(() => requireSettings(loadConfig({}), ['WECHAT_TOKEN'])),
    /^WECHAT_TOKEN is missing: the Token/,
  );
  t.match(
    errorOf(() => requireSettings(loadConfig({ WECHAT_TOKEN: 'tokentoken', WECHAT_ENCODING_AES_KEY: good.WECHAT_ENCODING_AES_KEY }), ['WECHAT_TOKEN'])),
    /^WECHAT_APP_ID is missing/,
  );
  t.equal(
    errorOf(() => requireSettings(loadConfig(good), ['WECHAT_TOKEN', 'IM_AGENTS', 'IM_SDK_APP_ID'])),
    'no error',
  );
});

t.test('a malformed value never echoes the value itself', async (t) => {
  const message = errorOf(() => loadConfig({ WECHAT_APP_SECRET: 'TopSecretValue!' }));
  t.notMatch(message, /TopSecretValue/);
});
