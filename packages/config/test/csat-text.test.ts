import { ConfigError, loadConfig } from '@wxim/config';
import t from 'tap';

/** The one line start-up prints for `env`. */
const refusal = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return 'accepted';
};

t.test('CSAT_TEXT unset or empty asks no rating question', async (t) => {
  t.equal(loadConfig({}).desk.csatText, undefined);
  t.equal(loadConfig({ CSAT_TEXT: '  ' }).desk.csatText, undefined);
});

t.test('CSAT_TEXT is the question above the scores, trimmed', async (t) => {
  t.equal(loadConfig({ CSAT_TEXT: ' 您对本次服务满意吗？ ' }).desk.csatText, '您对本次服务满意吗？');
  t.equal(refusal({ CSAT_TEXT: 'x'.repeat(1024) }), 'accepted', '1024 bytes fit');
});

t.test('a CSAT_TEXT over 1024 bytes stops start-up with one line naming it, without echoing it', async (t) => {
  // 342 Chinese characters are 1026 bytes in UTF-8.
  const message = refusal({ CSAT_TEXT: '满'.repeat(342) });
  t.match(message, /CSAT_TEXT is too long/);
  t.match(message, /at most 1024 bytes/);
  t.notMatch(message, /满/);
  t.notMatch(message, /\n/);
});
