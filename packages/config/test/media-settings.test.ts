import { ConfigError, SANDBOX_MEDIA_URL_SECRET, loadConfig, requireSettings, withSandbox } from '@wxim/config';
import t from 'tap';

const SECRET = 'a-media-url-secret-with-32-chars-or-more';

t.test('MEDIA_PUBLIC_URL with MEDIA_URL_SECRET turns media links on; neither: off', async (t) => {
  t.same(loadConfig({ MEDIA_PUBLIC_URL: 'https://relay.example.com/', MEDIA_URL_SECRET: SECRET }).media, {
    publicUrl: 'https://relay.example.com',
    urlSecret: SECRET,
  });
  t.same(loadConfig({}).media, {});
});

t.test('MEDIA_PUBLIC_URL without a secret stops only the services that sign or check links (the gateway, the im-worker)', async (t) => {
  // One ConfigMap gives MEDIA_PUBLIC_URL to every service; the secret is only in those two's Secrets.
  const config = loadConfig({ MEDIA_PUBLIC_URL: 'https://relay.example.com' });
  t.throws(() => requireSettings(config, ['MEDIA_URL_SECRET']), { name: 'ConfigError', message: /^MEDIA_URL_SECRET is missing: .*MEDIA_PUBLIC_URL/ });
  t.doesNotThrow(() => requireSettings(config, []), 'the others start');
  t.doesNotThrow(() => requireSettings(loadConfig({}), ['MEDIA_URL_SECRET']), 'no media links: no secret needed');
});

t.test('a short secret, or a URL with a query stop start-up naming the variable, never echoing it', async (t) => {
  const refused = (env: Record<string, string>, name: string) => {
    try {
      loadConfig(env);
      t.fail(`${name} accepted`);
    } catch (err) {
      t.type(err, ConfigError);
      t.match((err as Error).message, name);
      for (const value of Object.values(env)) t.notMatch((err as Error).message, value, 'the value is not echoed');
    }
  };
  refused({ MEDIA_PUBLIC_URL: 'https://relay.example.com', MEDIA_URL_SECRET: 'too-short-secret' }, 'MEDIA_URL_SECRET');
  refused({ MEDIA_PUBLIC_URL: 'ftp://relay.example.com', MEDIA_URL_SECRET: SECRET }, 'MEDIA_PUBLIC_URL');
  refused({ MEDIA_PUBLIC_URL: 'https://relay.example.com/?x=1', MEDIA_URL_SECRET: SECRET }, 'MEDIA_PUBLIC_URL');
});

t.test("sandbox mode serves media from the gateway's local URL with a key of its own", async (t) => {
  const config = withSandbox(loadConfig({}));
  t.same(config.media, { publicUrl: config.sandboxLinks.gatewayUrl, urlSecret: SANDBOX_MEDIA_URL_SECRET });
});
