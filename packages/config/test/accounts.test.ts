import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, accountsOf, loadConfig, loggedAccount, loggerOptions, requireSettings } from '@wxim/config';
import t from 'tap';

const dir = mkdtempSync(join(tmpdir(), 'wxim-accounts-'));
let files = 0;
const file = (text: string) => {
  const path = join(dir, `accounts-${++files}.yaml`);
  writeFileSync(path, text);
  return path;
};

const brandA = {
  id: 'brand-a',
  wechat: { appId: 'wx0123456789aaaaaa', token: 'tokenaaa', aesKey: 'a'.repeat(43), appSecret: 'a'.repeat(32) },
  im: { sdkAppId: 1400000011, secretKey: 'k'.repeat(64), agents: ['ann', 'al'], callbackToken: 'cb-a' },
};
const brandB = {
  id: 'brand-b',
  wechat: { appId: 'wx0123456789bbbbbb', token: 'tokenbbb', appSecret: 'b'.repeat(32), encryptionOnly: false },
  im: { sdkAppId: 1400000022, secretKey: 'q'.repeat(64), agents: 'bea', callbackToken: 'cb-b', apiBase: 'https://adminapisgp.im.qcloud.com' },
  welcomeText: 'Welcome to B',
};
const json = (accounts: unknown[]) => file(JSON.stringify({ accounts }));

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('the configuration was taken');
}

t.test('without ACCOUNTS_FILE there is one account, `default`, with the keys it always had', async (t) => {
  const config = loadConfig({ WECHAT_TOKEN: 'tokentoken' });
  t.equal(config.account, 'default');
  t.same(config.accounts, []);
  t.same(
    accountsOf(config).map((a) => a.account),
    ['default'],
  );
  t.equal(config.imPaceAccount, 'default');
});

t.test('ACCOUNTS_FILE (JSON or YAML): each account its own credentials, the rest inherited', async (t) => {
  const env = { ACCOUNTS_FILE: json([brandA, brandB]), WELCOME_TEXT: 'Hello from all', IM_API_BASE: 'https://console.tim.qq.com', DELIVERY_MARKS: 'off' };
  const config = loadConfig(env);
  t.equal(config.sandbox, false, 'an accounts file is never the sandbox');
  const [a, b] = accountsOf(config);
  t.same([a!.account, b!.account], ['brand-a', 'brand-b']);
  t.equal(a!.wechat.token, 'tokenaaa');
  t.equal(a!.im.sdkAppId, 1400000011);
  t.same(a!.im.agents, ['ann', 'al'], 'a list');
  t.same(b!.im.agents, ['bea'], 'or a comma-separated string');
  t.equal(a!.welcomeText, 'Hello from all', 'a text the account does not set is inherited');
  t.equal(b!.welcomeText, 'Welcome to B', 'its own text');
  t.equal(a!.im.apiBase, 'https://console.tim.qq.com', 'the API base is inherited');
  t.equal(b!.im.apiBase, 'https://adminapisgp.im.qcloud.com', "or the account's own (IM's regional domains)");
  t.equal(b!.deliveryMarks, 'off', 'every other setting is the environment’s');
  t.equal(b!.wechat.encodingAesKey, undefined, 'no credential is inherited');
  const yaml = loadConfig({
    ACCOUNTS_FILE: file('accounts:\n  - id: solo\n    wechat:\n      token: yamltoken\n      appId: wx0123456789cccccc\n    im:\n      sdkAppId: 1400000033\n'),
  });
  t.equal(accountsOf(yaml)[0]!.wechat.token, 'yamltoken', 'YAML too');
});

t.test('the single-account variables are the account `default` beside the file’s', async (t) => {
  const config = loadConfig({
    ACCOUNTS_FILE: json([brandB]),
    WECHAT_TOKEN: 'envtoken',
    IM_SDK_APP_ID: '1400000022',
    IM_SECRET_KEY: 'q'.repeat(64),
    IM_CALLBACK_TOKEN: 'cb-b',
  });
  t.same(
    config.accounts.map((a) => [a.account, a.wechat.token, a.imPaceAccount]),
    [
      ['default', 'envtoken', 'default'],
      ['brand-b', 'tokenbbb', 'default'],
    ],
    'the first account with an IM app keeps its pace for every account that shares it',
  );
  t.equal(config.accounts[1]!.wechat.token, 'tokenbbb', 'not the environment’s');
  t.match(
    refusal({ ACCOUNTS_FILE: json([{ ...brandB, id: 'default' }]), WECHAT_TOKEN: 'envtoken' }),
    /^ACCOUNTS_FILE has an account "default" while WECHAT_\* and IM_\* variables configure it too/,
  );
});

t.test('`${NAME}` takes a value from the environment: the file holds no secret, each service is given the ones it reads', async (t) => {
  const withRef = { ...brandA, wechat: { ...brandA.wechat, appSecret: '${BRAND_A_SECRET}' } };
  const config = loadConfig({ ACCOUNTS_FILE: json([withRef]), BRAND_A_SECRET: 's'.repeat(32) });
  t.equal(config.accounts[0]!.wechat.appSecret, 's'.repeat(32));
  const gateway = loadConfig({ ACCOUNTS_FILE: json([withRef]) });
  t.equal(gateway.accounts[0]!.wechat.appSecret, undefined, 'not set in this service: unset here');
  t.doesNotThrow(() => requireSettings(gateway, ['WECHAT_TOKEN']), 'a service that does not read it starts');
  t.throws(() => requireSettings(gateway, ['WECHAT_APP_SECRET']), {
    message:
      'ACCOUNTS_FILE account "brand-a" wechat.appSecret is missing (it names BRAND_A_SECRET, which is not set in this service): the AppSecret of the Official Account, 32 letters and digits',
  });
  t.match(
    refusal({ ACCOUNTS_FILE: json([withRef]), BRAND_A_SECRET: 'short' }),
    /^ACCOUNTS_FILE account "brand-a" wechat\.appSecret is malformed/,
    'a value it names is checked as the variable is',
  );
});

t.test('each problem is one line naming the account and its field; all of them at once', async (t) => {
  const badA = { ...brandA, wechat: { ...brandA.wechat, token: 'no!' } };
  const badB = { ...brandB, im: { ...brandB.im, sdkAppId: 'twelve' } };
  const lines = refusal({ ACCOUNTS_FILE: json([badA, badB]) }).split('\n');
  t.same(lines, [
    'ACCOUNTS_FILE account "brand-a" wechat.token is malformed: 3 to 32 letters and digits, the Token of the Official Account basic configuration',
    'ACCOUNTS_FILE account "brand-b" im.sdkAppId is malformed: the SDKAppID number of the IM app, e.g. 1400000000',
  ]);
  t.match(refusal({ ACCOUNTS_FILE: join(dir, 'missing.yaml') }), /^ACCOUNTS_FILE cannot be read \(ENOENT\)/);
  t.match(refusal({ ACCOUNTS_FILE: file('accounts: [') }), /^ACCOUNTS_FILE is neither JSON nor YAML/);
  const flow = refusal({ ACCOUNTS_FILE: file('accounts:\n  - id: a\n    im: { secretKey: ${A_KEY_SECRET_VALUE} }\n') });
  t.match(
    flow,
    /^ACCOUNTS_FILE is neither JSON nor YAML \(it cannot be read past line 3, column \d+; a \$\{NAME\} inside \{ \} needs quotes\)/,
    'where it stopped',
  );
  t.notMatch(flow, 'A_KEY_SECRET_VALUE', 'never the text');
  t.match(refusal({ ACCOUNTS_FILE: file('accounts: []') }), /^ACCOUNTS_FILE has no list "accounts"/);
  t.match(refusal({ ACCOUNTS_FILE: json([{ ...brandA, id: 'Brand A' }]) }), /^ACCOUNTS_FILE accounts\[0\]\.id is malformed: lowercase letters/);
  t.match(refusal({ ACCOUNTS_FILE: json([brandA, { ...brandB, id: 'brand-a' }]) }), /^ACCOUNTS_FILE accounts\[1\]\.id repeats "brand-a"/);
  t.match(
    refusal({ ACCOUNTS_FILE: json([{ ...brandA, welcome: 'hi' }]) }),
    /^ACCOUNTS_FILE account "brand-a"\.welcome is not a setting of an account/,
    'a typo',
  );
  t.match(
    refusal({ ACCOUNTS_FILE: json([{ ...brandA, wechat: { ...brandA.wechat, secret: 'x' } }]) }),
    /^ACCOUNTS_FILE account "brand-a"\.wechat\.secret is not a setting of an account: one of appId, token/,
  );
  t.match(refusal({ ACCOUNTS_FILE: json([brandA]), SANDBOX: '1' }), /^SANDBOX is set with ACCOUNTS_FILE/);
});

t.test('two accounts cannot be one Official Account, and accounts that share an IM app share its key and callback token', async (t) => {
  t.match(
    refusal({ ACCOUNTS_FILE: json([brandA, { ...brandB, wechat: { ...brandB.wechat, appId: brandA.wechat.appId } }]) }),
    /^ACCOUNTS_FILE account "brand-b" wechat\.appId is account "brand-a"'s too/,
  );
  t.match(
    refusal({ ACCOUNTS_FILE: json([brandA, { ...brandB, im: { ...brandB.im, callbackToken: brandA.im.callbackToken } }]) }),
    /^ACCOUNTS_FILE account "brand-b" im\.callbackToken is account "brand-a"'s too, whose IM app is another: a callback token of each IM app's own/,
    'one callback token for two IM apps',
  );
  t.doesNotThrow(
    () => loadConfig({ ACCOUNTS_FILE: json([brandA, { ...brandB, im: { ...brandA.im, sdkAppId: '${BRAND_B_IM_APP_UNSET}' } }]) }),
    "an app id this process is not given may be the other's app: its callback token is not refused",
  );
  const sharing = { ...brandB, im: { ...brandA.im, secretKey: 'z'.repeat(64) } };
  t.match(refusal({ ACCOUNTS_FILE: json([brandA, sharing]) }), /^ACCOUNTS_FILE account "brand-b" im\.secretKey differs from account "brand-a"'s/);
  const config = loadConfig({ ACCOUNTS_FILE: json([brandA, { ...brandB, im: brandA.im }]) });
  t.same(
    config.accounts.map((a) => a.imPaceAccount),
    ['brand-a', 'brand-a'],
    "one IM app, one pace: kept in the first account's keys",
  );
  t.same(
    config.accounts.map((a) => a.imAppAccounts),
    [
      ['brand-a', 'brand-b'],
      ['brand-a', 'brand-b'],
    ],
    'each knows every account of its IM app (their agents and loads are shared)',
  );
  t.same(
    config.accounts.map((a) => a.imDeskAccounts),
    [
      ['brand-a', 'brand-b'],
      ['brand-a', 'brand-b'],
    ],
    'with the same agents, their customers queue together',
  );
  const otherAgents = loadConfig({
    ACCOUNTS_FILE: json([
      brandA,
      { ...brandB, im: { ...brandA.im, agents: ['bea', 'ann'] } },
      { ...brandB, id: 'brand-c', wechat: { token: 'tokenccc' }, im: { ...brandA.im, agents: ['al', 'ann'] } },
    ]),
  });
  t.same(
    otherAgents.accounts.map((a) => [a.imAppAccounts.length, a.imDeskAccounts]),
    [
      [3, ['brand-a', 'brand-c']],
      [3, ['brand-b']],
      [3, ['brand-a', 'brand-c']],
    ],
    'an account of the app with other agents queues its customers apart (the same agents in another order are the same)',
  );
  t.same(
    loadConfig({ ACCOUNTS_FILE: json([brandA, brandB]) }).accounts.map((a) => a.imAppAccounts),
    [['brand-a'], ['brand-b']],
    'an app of its own: itself alone',
  );
  const unknownApps = loadConfig({
    ACCOUNTS_FILE: json([
      { ...brandA, im: { ...brandA.im, sdkAppId: '${BRAND_A_APP}' } },
      { ...brandB, im: { ...brandB.im, sdkAppId: '${BRAND_B_APP}' } },
    ]),
  });
  t.same(
    unknownApps.accounts.map((a) => [a.imPaceAccount, a.imAppAccounts]),
    [
      ['brand-a', ['brand-a']],
      ['brand-b', ['brand-b']],
    ],
    'apps this process does not know (their ${NAME}s unset here) are not taken for one shared app',
  );
});

t.test("what a service needs is checked in every account, each missing one named with its account's field", async (t) => {
  const config = loadConfig({ ACCOUNTS_FILE: json([brandA, { id: 'bare', wechat: { token: 'tokenccc' } }]) });
  t.throws(() => requireSettings(config, ['WECHAT_TOKEN', 'IM_CALLBACK_TOKEN']), { message: /^ACCOUNTS_FILE account "bare" im\.callbackToken is missing/ });
  t.doesNotThrow(() => requireSettings(config, ['WECHAT_TOKEN']));
});

t.test("an account's log lines name it; a single-account deployment's stay as they were", async (t) => {
  const config = loadConfig({ ACCOUNTS_FILE: json([brandA]), WECHAT_TOKEN: 'envtoken' });
  const [own, fromFile] = accountsOf(config);
  t.equal(loggedAccount(fromFile!), 'brand-a');
  t.same(loggerOptions('info', 'wechat-gateway', loggedAccount(fromFile!)).mixin?.(), { account: 'brand-a' }, 'on every line');
  t.equal(loggedAccount(own!), undefined, 'the variables’ own account: no field, as without the file');
  t.equal(loggerOptions('info', 'wechat-gateway', loggedAccount(loadConfig({}))).mixin, undefined);
});

t.test(
  'two accounts with one Token are refused (a push for one would pass on the other’s path), unless both are encryption-only with keys of their own',
  async (t) => {
    const sameToken = { ...brandB, wechat: { ...brandB.wechat, token: brandA.wechat.token } };
    t.match(refusal({ ACCOUNTS_FILE: json([brandA, sameToken]) }), /^ACCOUNTS_FILE account "brand-b" wechat\.token is account "brand-a"'s too/);
    t.notMatch(refusal({ ACCOUNTS_FILE: json([brandA, sameToken]) }), brandA.wechat.token, 'never the value');
    const encrypted = (a: typeof brandA | typeof brandB, key: string) => ({
      ...a,
      wechat: { ...a.wechat, token: 'sharedtoken', aesKey: key, encryptionOnly: true },
    });
    t.doesNotThrow(() => loadConfig({ ACCOUNTS_FILE: json([encrypted(brandA, 'a'.repeat(43)), encrypted(brandB, 'b'.repeat(43))]) }));
  },
);

t.test('encryption-only: inherited from WECHAT_REQUIRE_ENCRYPTION, and with a ${NAME} key only the gateway needs the key', async (t) => {
  const inherited = loadConfig({ ACCOUNTS_FILE: json([brandA]), WECHAT_REQUIRE_ENCRYPTION: '1' });
  t.equal(inherited.accounts[0]!.wechat.requireEncryption, true, 'inherited');
  const withRef = { ...brandA, wechat: { ...brandA.wechat, aesKey: '${BRAND_A_AES_KEY}', encryptionOnly: true } };
  const worker = loadConfig({ ACCOUNTS_FILE: json([withRef]) });
  t.equal(worker.accounts[0]!.wechat.requireEncryption, true, 'a service without the key starts');
  t.doesNotThrow(() => requireSettings(worker, ['IM_SDK_APP_ID']));
  t.throws(() => requireSettings(worker, ['WECHAT_TOKEN']), {
    message: /^ACCOUNTS_FILE account "brand-a" wechat\.aesKey is missing \(it names BRAND_A_AES_KEY, which is not set in this service\)/,
  });
  const gateway = loadConfig({ ACCOUNTS_FILE: json([withRef]), BRAND_A_AES_KEY: 'k'.repeat(43) });
  t.doesNotThrow(() => requireSettings(gateway, ['WECHAT_TOKEN']), 'the gateway, given the key');
});

t.test('previousAesKey: the key before, while it changes; by a ${NAME} only the gateway needs it', async (t) => {
  const withOld = { ...brandA, wechat: { ...brandA.wechat, previousAesKey: 'o'.repeat(43) } };
  t.equal(loadConfig({ ACCOUNTS_FILE: json([withOld]) }).accounts[0]!.wechat.previousEncodingAesKey, 'o'.repeat(43));
  const withRef = { ...brandA, wechat: { ...brandA.wechat, previousAesKey: '${BRAND_A_OLD_AES_KEY}' } };
  const worker = loadConfig({ ACCOUNTS_FILE: json([withRef]) });
  t.doesNotThrow(() => requireSettings(worker, ['IM_SDK_APP_ID']), 'a service without it starts');
  t.throws(() => requireSettings(worker, ['WECHAT_TOKEN']), {
    message: /^ACCOUNTS_FILE account "brand-a" wechat\.previousAesKey is missing \(it names BRAND_A_OLD_AES_KEY, which is not set in this service\)/,
  });
  const gateway = loadConfig({ ACCOUNTS_FILE: json([withRef]), BRAND_A_OLD_AES_KEY: 'o'.repeat(43) });
  t.equal(gateway.accounts[0]!.wechat.previousEncodingAesKey, 'o'.repeat(43), 'the gateway, given it');
  t.match(refusal({ ACCOUNTS_FILE: json([{ ...brandA, wechat: { ...brandA.wechat, previousAesKey: 'short' } }]) }), /wechat\.previousAesKey is malformed/);
});

t.test(
  "a ${NAME} this service lacks: the gateway stops for the AES key or encryption-only it names, and no field takes the environment's own value",
  async (t) => {
    // Not encryption-only: a missing key would leave the account reading plain pushes only.
    const keyRef = { ...brandB, wechat: { ...brandB.wechat, aesKey: '${BRAND_B_AES_KEY}', encryptionOnly: undefined } };
    const gateway = loadConfig({ ACCOUNTS_FILE: json([keyRef]) });
    t.throws(() => requireSettings(gateway, ['WECHAT_TOKEN']), {
      message: /^ACCOUNTS_FILE account "brand-b" wechat\.aesKey is missing \(it names BRAND_B_AES_KEY, which is not set in this service\)/,
    });
    t.doesNotThrow(() => requireSettings(gateway, ['IM_SDK_APP_ID']), 'a service that does not read pushes starts');
    const onlyRef = { ...brandA, wechat: { ...brandA.wechat, encryptionOnly: '${BRAND_A_ENCRYPTED}' } };
    t.throws(() => requireSettings(loadConfig({ ACCOUNTS_FILE: json([onlyRef]), WECHAT_REQUIRE_ENCRYPTION: '0' }), ['WECHAT_TOKEN']), {
      message: /^ACCOUNTS_FILE account "brand-a" wechat\.encryptionOnly is missing \(it names BRAND_A_ENCRYPTED, which is not set in this service\)/,
    });
    // The environment configures settings for every account (here another brand's welcome and IM region).
    const textRef = { ...brandB, welcomeText: '${BRAND_B_WELCOME}', im: { ...brandB.im, apiBase: '${BRAND_B_IM_API}' } };
    const env = { ACCOUNTS_FILE: json([textRef]), WELCOME_TEXT: 'Welcome to Brand A', IM_API_BASE: 'https://adminapiger.im.qcloud.com' };
    const b = loadConfig(env).accounts[0]!;
    t.not(b.welcomeText, 'Welcome to Brand A', "not the environment's welcome");
    t.not(b.im.apiBase, 'https://adminapiger.im.qcloud.com', 'nor its IM region');
    t.equal(loadConfig({ ...env, BRAND_B_WELCOME: 'Welcome to B' }).accounts[0]!.welcomeText, 'Welcome to B', 'the named value, once set');
  },
);

t.test('a key that is not a setting is named only when it reads as one: a missing space after ":" does not print the value', async (t) => {
  const text = 'accounts:\n  - id: brand-a\n    wechat: { appId: wx0123456789aaaaaa, token:Sup3rS3cretTok3n }\n    im: { sdkAppId: 1400000011, agents: [x] }\n';
  const message = refusal({ ACCOUNTS_FILE: file(text) });
  t.match(message, /^ACCOUNTS_FILE account "brand-a"\.wechat has a key that is not a setting/);
  t.notMatch(message, /Sup3rS3cretTok3n/, 'never the value');
});

t.test('every value is text, as a variable is; a reference written wrong is refused, not taken as the value', async (t) => {
  const config = loadConfig({ ACCOUNTS_FILE: file('accounts:\n  - id: a\n    wechat: { token: 012345 }\n    im: { sdkAppId: 1400000011, agents: [x] }\n') });
  t.equal(config.accounts[0]!.wechat.token, '012345');
  t.equal(config.accounts[0]!.im.sdkAppId, 1400000011);
  for (const bad of ['${BRAND-A-CB}', 'x${A}', '${A']) {
    t.equal(
      refusal({ ACCOUNTS_FILE: json([{ ...brandA, im: { ...brandA.im, callbackToken: bad } }]) }),
      'ACCOUNTS_FILE account "brand-a".im.callbackToken is malformed: a value, or a whole ${NAME} reference (NAME of letters, digits and _, not starting with a digit)',
      bad,
    );
  }
});

t.test("docs/accounts.md's example, each service given only its own secrets, starts every service", async (t) => {
  const doc = readFileSync(new URL('../../../docs/accounts.md', import.meta.url), 'utf8');
  const example = /```yaml\n([\s\S]*?)```/.exec(doc)![1]!;
  const names = [...new Set([...example.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]!))];
  const value = (name: string) =>
    /AES_KEY/.test(name)
      ? 'e'.repeat(43)
      : /APP_SECRET/.test(name)
        ? 's'.repeat(32)
        : /TOKEN$/.test(name) && !/CALLBACK/.test(name)
          ? `tok${name.length}${name.slice(6, 7)}`
          : /CALLBACK_TOKEN$/.test(name)
            ? `callback-${name.toLowerCase()}`
            : 'v'.repeat(40);
  const only = (pattern: RegExp) => Object.fromEntries(names.filter((n) => pattern.test(n)).map((n) => [n, value(n)]));
  const path = file(example);
  const services: [string, RegExp, Parameters<typeof requireSettings>[1]][] = [
    ['wechat-gateway', /WECHAT_TOKEN|AES_KEY/, ['WECHAT_TOKEN']],
    ['im-callback', /IM_KEY|IM_CALLBACK_TOKEN/, ['IM_SDK_APP_ID', 'IM_SECRET_KEY', 'IM_AGENTS', 'IM_CALLBACK_TOKEN']],
    ['im-worker', /IM_KEY/, ['IM_SDK_APP_ID', 'IM_SECRET_KEY', 'IM_AGENTS']],
    ['wechat-pusher', /APP_SECRET|IM_KEY/, ['WECHAT_APP_ID', 'WECHAT_APP_SECRET', 'IM_SDK_APP_ID', 'IM_SECRET_KEY', 'IM_AGENTS']],
  ];
  for (const [service, secrets, needs] of services) {
    const config = loadConfig({ ACCOUNTS_FILE: path, ...only(secrets) });
    t.doesNotThrow(() => requireSettings(config, needs), service);
  }
});
