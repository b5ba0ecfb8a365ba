import {
  ConfigError,
  DEFAULT_WELCOME_TEXT,
  SANDBOX,
  SANDBOX_ACCOUNTS,
  SANDBOX_SECOND,
  accountsOf,
  isSandbox,
  loadConfig,
  platformBind,
  requirePortsApart,
  requireSettings,
  sandboxForService,
  withSandbox,
} from '@wxim/config';
import t from 'tap';

const good = {
  WECHAT_TOKEN: 'tokentoken',
  WECHAT_APP_ID: 'wx0123456789abcdef',
  WECHAT_APP_SECRET: '0123456789abcdef0123456789abcdef',
  WECHAT_ENCODING_AES_KEY: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  IM_SDK_APP_ID: '1400000042',
  IM_SECRET_KEY: 'a'.repeat(64),
  IM_AGENTS: 'agent1, agent7,agent1',
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

t.test('the documented defaults with an empty environment, which is sandbox mode', async (t) => {
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
  t.equal(c.im.sdkAppId, 1400000042);
  t.same(c.im.agents, ['agent1', 'agent7']);
  t.notOk(isSandbox(c));
  t.ok(isSandbox(loadConfig({ ...good, SANDBOX: '1' })), 'SANDBOX=1 forces it');
  t.equal(loadConfig({ WELCOME_TEXT: '' }).welcomeText, '', 'an empty welcome disables it');
});

t.test('a malformed value names the variable and what a valid one looks like, in one line', async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ WECHAT_ENCODING_AES_KEY: 'short' }, /^WECHAT_ENCODING_AES_KEY is malformed: 43 letters and digits/],
    [{ WECHAT_ENCODING_AES_KEY_PREVIOUS: 'short' }, /^WECHAT_ENCODING_AES_KEY_PREVIOUS is malformed: 43 letters and digits/],
    [
      { WECHAT_ENCODING_AES_KEY: '', WECHAT_ENCODING_AES_KEY_PREVIOUS: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG' },
      /^WECHAT_ENCODING_AES_KEY_PREVIOUS is set without WECHAT_ENCODING_AES_KEY/,
    ],
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
    [{ REDIS_WAIT_REPLICAS: '-1' }, /^REDIS_WAIT_REPLICAS is malformed: a whole number from 0 to 16/],
    [{ CALLBACK_SWEEP_MS: '500' }, /^CALLBACK_SWEEP_MS is malformed: 0 \(no sweeps\) or a period in ms from 1000/],
    [{ CALLBACK_SWEEP_MS: '5m' }, /^CALLBACK_SWEEP_MS is malformed/],
    [{ CALLBACK_VERIFY: 'maybe' }, /^CALLBACK_VERIFY is malformed: one of history, off/],
    [{ REPLY_UNDO_MS: '120001' }, /^REPLY_UNDO_MS is malformed: a whole number from 0 to 120000/],
    [{ REPLY_UNDO_MS: '1.5' }, /^REPLY_UNDO_MS is malformed/],
    [{ REPLY_UNDO_MS: '5s' }, /^REPLY_UNDO_MS is malformed/],
    [{ DELIVERY_MARKS: 'yes' }, /^DELIVERY_MARKS is malformed: one of on, off$/],
    [{ CALLBACK_RECOVERY_PERCENT: '100' }, /^CALLBACK_RECOVERY_PERCENT is malformed: a whole number from 1 to 90/],
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
  // Encryption-only without the key: the gateway, which reads pushes, stops; the others (one ConfigMap shares the setting) start.
  const { WECHAT_ENCODING_AES_KEY: _key, ...noKey } = good;
  const encryptionOnly = loadConfig({ ...noKey, WECHAT_REQUIRE_ENCRYPTION: '1' });
  t.match(
    errorOf(() => requireSettings(encryptionOnly, ['WECHAT_TOKEN'])),
    /^WECHAT_ENCODING_AES_KEY is missing: .*WECHAT_REQUIRE_ENCRYPTION/,
  );
  t.equal(
    errorOf(() => requireSettings(encryptionOnly, ['IM_SDK_APP_ID', 'IM_SECRET_KEY', 'IM_AGENTS'])),
    'no error',
  );
});

t.test('API origins are bare https origins (http only on loopback): the admin UserSig and access_token travel in their queries', async (t) => {
  const refused = [
    'https://console.tim.qq.com/v4',
    'https://console.tim.qq.com/?sdkappid=1',
    'https://console.tim.qq.com#x',
    'https://user:pass@console.tim.qq.com',
    'http://console.tim.qq.com',
    'http://10.0.0.5:3003',
    'ftp://console.tim.qq.com',
    'console.tim.qq.com',
  ];
  for (const value of refused) {
    for (const name of ['IM_API_BASE', 'WECHAT_API_BASE']) {
      t.match(
        errorOf(() => loadConfig({ [name]: value })),
        new RegExp(`^${name} is malformed: a bare https:// origin`),
        `${name}=${value}`,
      );
    }
  }
  t.equal(loadConfig({ IM_API_BASE: 'https://adminapisgp.im.qcloud.com/' }).im.apiBase, 'https://adminapisgp.im.qcloud.com');
  t.equal(loadConfig({ IM_API_BASE: 'http://127.0.0.1:3003' }).im.apiBase, 'http://127.0.0.1:3003', 'a simulator on loopback');
  t.equal(loadConfig({ WECHAT_API_BASE: 'http://localhost:4000' }).wechat.apiBase, 'http://localhost:4000');
  t.equal(loadConfig({ IM_API_BASE: 'http://[::1]:3003' }).im.apiBase, 'http://[::1]:3003');
});

t.test('WECHAT_REQUIRE_ENCRYPTION and REDIS_WAIT_REPLICAS', async (t) => {
  const c = loadConfig({ ...good, WECHAT_REQUIRE_ENCRYPTION: '1', REDIS_WAIT_REPLICAS: '2' });
  t.equal(c.wechat.requireEncryption, true);
  t.equal(c.redisWaitReplicas, 2);
  t.equal(loadConfig({}).wechat.requireEncryption, false, 'off by default');
  t.equal(loadConfig({}).redisWaitReplicas, 0, 'no replicas waited for by default');
  t.equal(loadConfig({}).callbackVerify, 'history', "replies are confirmed in IM's history by default");
  t.equal(loadConfig({}).deliveryMarks, 'on', 'replies are marked in IM by default');
  t.equal(loadConfig({ DELIVERY_MARKS: 'off' }).deliveryMarks, 'off', 'off turns the marks off');
  t.equal(loadConfig({}).callbackSweepMs, 300_000, 'the fleet sweeps every five minutes by default');
  t.equal(loadConfig({ CALLBACK_SWEEP_MS: '0' }).callbackSweepMs, 0, '0 turns sweeps off');
  t.equal(loadConfig({}).replyUndoMs, 0, 'replies are not held by default');
  t.equal(loadConfig({ REPLY_UNDO_MS: '5000' }).replyUndoMs, 5000, 'REPLY_UNDO_MS holds replies that long');
});

t.test('a malformed value never echoes the value itself', async (t) => {
  const message = errorOf(() => loadConfig({ WECHAT_APP_SECRET: 'TopSecretValue!' }));
  t.notMatch(message, /TopSecretValue/);
});

t.test('sandbox mode fills in its credentials and points the services at the sandbox, once', async (t) => {
  const c = withSandbox(loadConfig({ QUEUE_PREFIX: 'shop', SANDBOX_PORT: '4000' }));
  t.equal(c.sandboxed, true);
  t.equal(c.queuePrefix, 'shop-sandbox', 'keys of its own');
  t.equal(c.wechat.token, SANDBOX.token);
  t.equal(c.im.sdkAppId, SANDBOX.imSdkAppId);
  t.equal(c.im.callbackToken, SANDBOX.imCallbackToken);
  t.same(c.im.agents, SANDBOX.imAgents);
  t.equal(c.im.apiBase, 'http://127.0.0.1:4001', 'the IM simulator: the port after the page');
  t.equal(c.wechat.apiBase, 'http://127.0.0.1:4002', 'the WeChat API simulator: the one after that');
  t.same(c.mediaAllowedHosts, ['127.0.0.1:4000'], "agents' photos come from the sandbox page");
  t.same(withSandbox(loadConfig({ SANDBOX_PORT: '80' })).mediaAllowedHosts, ['127.0.0.1:80'], 'its port named even when it is the default one');
  t.same(withSandbox(loadConfig({ LOCAL_BIND: '::1' })).mediaAllowedHosts, ['[::1]:3003']);
  t.doesNotThrow(() => requireSettings(c, ['WECHAT_TOKEN', 'WECHAT_APP_SECRET', 'IM_SDK_APP_ID', 'IM_SECRET_KEY', 'IM_AGENTS', 'IM_CALLBACK_TOKEN']));
  t.equal(withSandbox(c), c, 'applying it again changes nothing');
  t.equal(withSandbox(withSandbox(loadConfig({ SANDBOX: '1' }))).queuePrefix, 'wxim-sandbox', 'SANDBOX=1 too: one suffix');

  const apart = withSandbox(loadConfig({ SANDBOX_HOST: 'sandbox' }));
  t.equal(apart.im.apiBase, 'http://sandbox:3004', 'services in containers of their own reach the sandbox by name');
  t.equal(apart.wechat.apiBase, 'http://sandbox:3005');

  const live = loadConfig(good);
  t.equal(withSandbox(live), live, 'with credentials nothing changes');
  const off = loadConfig({ SANDBOX: '0' });
  t.equal(withSandbox(off), off, 'SANDBOX=0: nothing changes, so a missing credential is named');
  t.match(
    errorOf(() => requireSettings(withSandbox(off), ['WECHAT_TOKEN'])),
    /^WECHAT_TOKEN is missing/,
  );
});

t.test('sandbox mode runs two made-up accounts: default as before, and second with an Official Account and an IM app of its own', async (t) => {
  const c = withSandbox(loadConfig({ QUEUE_PREFIX: 'shop', SANDBOX_PORT: '4000' }));
  t.same(
    accountsOf(c).map((a) => a.account),
    ['default', 'second'],
    'as if ACCOUNTS_FILE listed them, default first',
  );
  const [first, second] = accountsOf(c) as [typeof c, typeof c];
  t.equal(c.account, 'default', 'the configuration itself is default');
  t.same(
    [first.wechat.token, first.wechat.appId, first.im.sdkAppId, first.im.callbackToken],
    [SANDBOX.token, SANDBOX.appId, SANDBOX.imSdkAppId, SANDBOX.imCallbackToken],
  );
  t.same(first.im.agents, ['agent1', 'agent2']);
  t.same(
    [second.wechat.token, second.wechat.appId, second.wechat.appSecret, second.wechat.encodingAesKey],
    [SANDBOX_SECOND.token, SANDBOX_SECOND.appId, SANDBOX_SECOND.appSecret, SANDBOX_SECOND.encodingAesKey],
    'second: an Official Account of its own',
  );
  t.same(
    [second.im.sdkAppId, second.im.secretKey, second.im.callbackToken, second.im.agents],
    [SANDBOX_SECOND.imSdkAppId, SANDBOX_SECOND.imSecretKey, SANDBOX_SECOND.imCallbackToken, ['agent3', 'agent4']],
    'and an IM app of its own, with agents of its own',
  );
  for (const field of ['token', 'appId', 'appSecret', 'encodingAesKey'] as const) t.not(second.wechat[field], first.wechat[field], `its own ${field}`);
  for (const field of ['sdkAppId', 'secretKey', 'callbackToken'] as const) t.not(second.im[field], first.im[field], `its own IM ${field}`);
  t.same(
    accountsOf(c).map((a) => [a.im.apiBase, a.wechat.apiBase]),
    [
      ['http://127.0.0.1:4001', 'http://127.0.0.1:4002'],
      ['http://127.0.0.1:4001', 'http://127.0.0.1:4002'],
    ],
    'both reach the same two simulators, which play both apps: no port of its own',
  );
  t.same(
    accountsOf(c).map((a) => [a.sandboxed, a.queuePrefix, a.imPaceAccount]),
    [
      [true, 'shop-sandbox', 'default'],
      [true, 'shop-sandbox', 'second'],
    ],
    "sandbox mode's keys for both (second's under shop-sandbox/second), each with its own IM app's pace",
  );
  t.same(second.mediaAllowedHosts, ['127.0.0.1:4000'], "second's agents' photos come from the sandbox page too");
  t.doesNotThrow(() => requireSettings(c, ['WECHAT_TOKEN', 'WECHAT_APP_SECRET', 'IM_SDK_APP_ID', 'IM_SECRET_KEY', 'IM_AGENTS', 'IM_CALLBACK_TOKEN']));
  t.equal(withSandbox(c), c, 'applying it again changes nothing');
  for (const a of SANDBOX_ACCOUNTS) {
    // Made up, but each a valid value of the variable it stands for.
    const env = {
      WECHAT_TOKEN: a.token,
      WECHAT_APP_ID: a.appId,
      WECHAT_APP_SECRET: a.appSecret,
      WECHAT_ENCODING_AES_KEY: a.encodingAesKey,
      IM_SDK_APP_ID: String(a.imSdkAppId),
      IM_SECRET_KEY: a.imSecretKey,
      IM_AGENTS: a.imAgents.join(','),
      IM_CALLBACK_TOKEN: a.imCallbackToken,
    };
    t.doesNotThrow(() => loadConfig(env), `${a.id}'s credentials pass the variables' checks`);
  }
  t.same(loadConfig({}).accounts, [], 'outside sandbox mode nothing has accounts of its own');
});

t.test('where the sandbox and the password-less pages listen', async (t) => {
  const c = loadConfig({});
  t.equal(c.localBind, '127.0.0.1', 'this machine only by default');
  t.same(c.sandboxLinks, { gatewayUrl: 'http://127.0.0.1:3000', callbackUrl: 'http://127.0.0.1:3001/im/callback' }, 'no SANDBOX_HOST given');
  const moved = loadConfig({ GATEWAY_PORT: '8000', CALLBACK_PORT: '8001' });
  t.same(moved.sandboxLinks, { gatewayUrl: 'http://127.0.0.1:8000', callbackUrl: 'http://127.0.0.1:8001/im/callback' }, 'the ports followed');
  t.equal(withSandbox(loadConfig({ LOCAL_BIND: '192.168.1.5' })).im.apiBase, 'http://192.168.1.5:3004', 'a sandbox on one address is reached there');
  t.equal(withSandbox(loadConfig({ LOCAL_BIND: '0.0.0.0' })).im.apiBase, 'http://127.0.0.1:3004', 'on every interface: through loopback');
  t.equal(withSandbox(loadConfig({ LOCAL_BIND: '::1' })).im.apiBase, 'http://[::1]:3004', 'IPv6 in brackets');
  t.equal(withSandbox(loadConfig({ SANDBOX_HOST: '[fd00::5]' })).wechat.apiBase, 'http://[fd00::5]:3005');
  // In sandbox mode the gateway and im-callback listen on LOCAL_BIND: the sandbox sends to them there.
  t.same(
    loadConfig({ LOCAL_BIND: '192.168.1.5' }).sandboxLinks,
    { gatewayUrl: 'http://192.168.1.5:3000', callbackUrl: 'http://192.168.1.5:3001/im/callback' },
    'the sandbox finds the gateway and im-callback on LOCAL_BIND',
  );
  t.equal(loadConfig({ LOCAL_BIND: '::1' }).sandboxLinks.gatewayUrl, 'http://[::1]:3000');
  t.equal(loadConfig({ LOCAL_BIND: '0.0.0.0' }).sandboxLinks.gatewayUrl, 'http://127.0.0.1:3000', 'on every interface: through loopback');
  t.equal(platformBind(withSandbox(loadConfig({}))), '127.0.0.1', 'sandbox mode: the gateway and im-callback on LOCAL_BIND');
  t.equal(platformBind(withSandbox(loadConfig({ LOCAL_BIND: '0.0.0.0' }))), '0.0.0.0');
  t.equal(platformBind(loadConfig(good)), '0.0.0.0', 'with credentials: every interface, WeChat and IM call from outside');
  const compose = loadConfig({
    LOCAL_BIND: '0.0.0.0',
    SANDBOX_HOST: 'sandbox',
    SANDBOX_GATEWAY_URL: 'http://wechat-gateway:3000',
    SANDBOX_CALLBACK_URL: 'http://im-callback:3001/im/callback',
  });
  t.equal(compose.localBind, '0.0.0.0');
  t.same(compose.sandboxLinks, { host: 'sandbox', gatewayUrl: 'http://wechat-gateway:3000', callbackUrl: 'http://im-callback:3001/im/callback' });
  for (const bind of ['every where', '[::1]', 'example.com', '300.1.1.1'])
    t.match(
      errorOf(() => loadConfig({ LOCAL_BIND: bind })),
      /^LOCAL_BIND is malformed: an interface address/,
      bind,
    );
  for (const host of ['http://sandbox', 'cafe:3003', 'sand box', '-sandbox'])
    t.match(
      errorOf(() => loadConfig({ SANDBOX_HOST: host })),
      /^SANDBOX_HOST is malformed/,
      host,
    );
  t.match(
    errorOf(() => loadConfig({ SANDBOX_PORT: '65534' })),
    /^SANDBOX_PORT is malformed: a whole number from 1 to 65533/,
    'room for the two simulators',
  );
  t.match(
    errorOf(() => loadConfig({ SANDBOX_GATEWAY_URL: 'ftp://x' })),
    /^SANDBOX_GATEWAY_URL is malformed/,
  );
});

t.test('a service on its own takes sandbox mode only when asked or pointed at a sandbox', async (t) => {
  t.notOk(sandboxForService(loadConfig({})), 'no credential and no SANDBOX_HOST: a deployment whose secrets did not arrive, not a sandbox');
  t.ok(sandboxForService(loadConfig({ SANDBOX_HOST: 'sandbox' })), 'pointed at a sandbox (docker-compose.yml)');
  t.ok(sandboxForService(loadConfig({ SANDBOX: '1' })), 'asked');
  t.notOk(sandboxForService(loadConfig({ ...good, SANDBOX_HOST: 'sandbox' })), 'credentials win');
  t.notOk(sandboxForService(loadConfig({ SANDBOX: '0', SANDBOX_HOST: 'sandbox' })), 'SANDBOX=0 wins');
  t.ok(sandboxForService(withSandbox(loadConfig({}))), 'npm start decided it already');
});

t.test('npm start needs a port of its own for each service and the sandbox', async (t) => {
  t.doesNotThrow(() => requirePortsApart(loadConfig({}), true));
  t.match(
    errorOf(() => requirePortsApart(loadConfig({ DASHBOARD_PORT: '3004' }), true)),
    /^SANDBOX_PORT \+ 1 \(the IM simulator\) is the same port as DASHBOARD_PORT \(3004\)/,
  );
  t.doesNotThrow(() => requirePortsApart(loadConfig({ DASHBOARD_PORT: '3004' }), false), 'without the sandbox 3004 is free');
  t.match(
    errorOf(() => requirePortsApart(loadConfig({ PUSHER_PORT: '3000' }), false)),
    /^PUSHER_PORT is the same port as GATEWAY_PORT \(3000\)/,
  );
  t.doesNotThrow(() => requirePortsApart(loadConfig({ GATEWAY_PORT: '0', CALLBACK_PORT: '0' }), false), 'port 0 (any free one) may repeat');
});

t.test("the example settings' placeholders stop start-up outside sandbox mode, each named", async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ WECHAT_APP_ID: 'wxchangeme00000000' }, /^WECHAT_APP_ID is still the example placeholder: the AppID of your Official Account/],
    [{ IM_SDK_APP_ID: '1400000000' }, /^IM_SDK_APP_ID is still the example placeholder: the SDKAppID of your IM app/],
    [{ IM_AGENTS: 'agent2, agent1' }, /^IM_AGENTS is still the example placeholder/],
    [{ DASHBOARD_USER: 'change-me', DASHBOARD_PASSWORD: 'change-me' }, /^DASHBOARD_PASSWORD is still the example placeholder: a password of your own/],
    [{ IM_CALLBACK_TOKEN: 'change-me' }, /^IM_CALLBACK_TOKEN is still the example placeholder: the callback authentication token/],
  ];
  for (const [env, expected] of cases) {
    const message = errorOf(() => requireSettings(loadConfig({ ...good, ...env }), ['WECHAT_TOKEN']));
    t.match(message, expected, Object.keys(env)[0]!);
    t.notMatch(message, /\n/);
  }
  t.equal(
    errorOf(() => requireSettings(loadConfig({ ...good, IM_AGENTS: 'agent1' }), ['IM_AGENTS'])),
    'no error',
    'one of them alone is a name like any other',
  );
  const sandboxed = withSandbox(loadConfig({ SANDBOX: '1' }));
  t.same(sandboxed.im.agents, ['agent1', 'agent2']);
  t.equal(
    errorOf(() => requireSettings(sandboxed, ['IM_AGENTS'])),
    'no error',
    "sandbox mode's own agents are agent1 and agent2",
  );
  const spelt = loadConfig({ ...good, IM_SDK_APP_ID: String(SANDBOX.imSdkAppId), IM_AGENTS: SANDBOX.imAgents.join(',') });
  t.equal(
    errorOf(() => requireSettings(spelt, ['IM_AGENTS'])),
    'no error',
    "and so with the sandbox's IM app spelt out (a benchmark against the simulators)",
  );
});
