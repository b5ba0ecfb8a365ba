import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_WAITING_TEXT, isOpen, loadConfig } from '@wxim/config';
import t from 'tap';

const hoursOf = (env: Record<string, string>) => loadConfig(env).desk.hours;
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

t.test('unset hours mean always open; the defaults are a desk that works', async (t) => {
  const desk = loadConfig({}).desk;
  t.equal(desk.hours, undefined);
  t.ok(isOpen(desk.hours, new Date('2026-12-05T03:00:00Z')), 'open on a Saturday night');
  t.equal(desk.maxOpen, 20);
  t.equal(desk.autoReplyEveryMs, 12 * 3_600_000);
  t.equal(desk.closeAfterIdleMs, 48 * 3_600_000);
  t.equal(desk.waitingText, DEFAULT_WAITING_TEXT);
  t.equal(desk.cannedReplies.size, 0);
});

t.test('opening hours are read in the business time zone, Asia/Shanghai by default', async (t) => {
  const hours = hoursOf({ BUSINESS_HOURS: 'Mon-Fri 09:00-18:00; Sat 10:00-14:00' });
  // 2026-12-07 is a Monday; Shanghai is UTC+8.
  t.notOk(isOpen(hours, new Date('2026-12-07T00:59:00Z')), 'Mon 08:59 closed');
  t.ok(isOpen(hours, new Date('2026-12-07T01:00:00Z')), 'Mon 09:00 open');
  t.ok(isOpen(hours, new Date('2026-12-07T09:59:00Z')), 'Mon 17:59 open');
  t.notOk(isOpen(hours, new Date('2026-12-07T10:00:00Z')), 'Mon 18:00 closed');
  t.ok(isOpen(hours, new Date('2026-12-12T02:30:00Z')), 'Sat 10:30 open');
  t.notOk(isOpen(hours, new Date('2026-12-12T06:00:00Z')), 'Sat 14:00 closed');
  t.notOk(isOpen(hours, new Date('2026-12-13T03:00:00Z')), 'Sun closed');
  const berlin = hoursOf({ BUSINESS_HOURS: 'Mon-Fri 09:00-18:00', BUSINESS_TZ: 'Europe/Berlin' });
  t.ok(isOpen(berlin, new Date('2026-12-07T08:00:00Z')), 'Berlin 09:00 (UTC+1 in winter) open');
  t.ok(isOpen(berlin, new Date('2026-07-06T07:00:00Z')), 'Berlin 09:00 (UTC+2 in summer) open');
  t.notOk(isOpen(berlin, new Date('2026-07-06T06:59:00Z')), 'Berlin 08:59 in summer closed');
});

t.test('lists, ranges through the weekend, several ranges a day, and 24:00', async (t) => {
  const hours = hoursOf({ BUSINESS_HOURS: 'mon,wed 09:00-12:00,13:00-18:00; Fri-Sun 20:00-24:00', BUSINESS_TZ: 'UTC' });
  t.ok(isOpen(hours, new Date('2026-12-09T11:59:00Z')), 'Wed 11:59');
  t.notOk(isOpen(hours, new Date('2026-12-09T12:30:00Z')), 'Wed lunch');
  t.notOk(isOpen(hours, new Date('2026-12-08T10:00:00Z')), 'Tue');
  t.ok(isOpen(hours, new Date('2026-12-13T23:59:00Z')), 'Sun 23:59');
  t.notOk(isOpen(hours, new Date('2026-12-14T00:00:00Z')), 'Mon 00:00');
});

t.test('holidays close whole local days, ranges included', async (t) => {
  const hours = hoursOf({ BUSINESS_HOURS: 'Mon-Sun 00:00-24:00', HOLIDAYS: '2026-10-01..2026-10-07, 2026-12-25' });
  t.notOk(isOpen(hours, new Date('2026-09-30T16:00:00Z')), 'Oct 1st 00:00 in Shanghai');
  t.ok(isOpen(hours, new Date('2026-09-30T15:59:00Z')), 'Sep 30th 23:59 in Shanghai');
  t.notOk(isOpen(hours, new Date('2026-10-07T12:00:00Z')), 'Oct 7th');
  t.ok(isOpen(hours, new Date('2026-10-07T16:00:00Z')), 'Oct 8th');
  t.notOk(isOpen(hours, new Date('2026-12-25T10:00:00Z')), 'Dec 25th');
});

t.test('bad hours, zones, holidays and texts stop start-up with one clear line', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ BUSINESS_HOURS: 'Mon-Fri 9-18' }, /^BUSINESS_HOURS has a time "9" in "Mon-Fri 9-18" it cannot read: e\.g\./],
    [{ BUSINESS_HOURS: 'Mon-Fry 09:00-18:00' }, /^BUSINESS_HOURS names an unknown day "Fry"/],
    [{ BUSINESS_HOURS: 'Fri 22:00-02:00' }, /^BUSINESS_HOURS has hours "22:00-02:00" .* end before they start: split hours past midnight/],
    [{ BUSINESS_HOURS: 'Mon 09:00-24:30' }, /^BUSINESS_HOURS has a time "24:30"/],
    [{ BUSINESS_HOURS: 'weekdays' }, /^BUSINESS_HOURS has "weekdays", which is not days and hours/],
    [{ BUSINESS_HOURS: ';' }, /^BUSINESS_HOURS opens on no day/],
    [{ BUSINESS_HOURS: 'Mon 09:00-18:00', BUSINESS_TZ: 'Mars/Olympus' }, /^BUSINESS_TZ names an unknown time zone "Mars\/Olympus": an IANA time zone/],
    [{ BUSINESS_HOURS: 'Mon 09:00-18:00', HOLIDAYS: '2026-02-30' }, /^HOLIDAYS has "2026-02-30", which is not a date/],
    [{ BUSINESS_HOURS: 'Mon 09:00-18:00', HOLIDAYS: '2026-10-07..2026-10-01' }, /^HOLIDAYS has a range .* ends before it starts/],
    [{ HOLIDAYS: '2026-10-01' }, /^HOLIDAYS is set without BUSINESS_HOURS/],
    [{ AUTO_REPLY_EVERY: '12' }, /^AUTO_REPLY_EVERY is malformed: a duration from 1m to 30d/],
    [{ AUTO_REPLY_EVERY: '10s' }, /^AUTO_REPLY_EVERY is malformed/],
    [{ AGENT_MAX_OPEN: '0' }, /^AGENT_MAX_OPEN is malformed: a whole number from 1/],
    [{ WAITING_TEXT: 'x'.repeat(2049) }, /^WAITING_TEXT is too long/],
  ];
  for (const [env, line] of cases) t.match(refusal(env), line, JSON.stringify(env).slice(0, 60));
  t.equal(loadConfig({ AUTO_REPLY_EVERY: '30m' }).desk.autoReplyEveryMs, 1_800_000);
  t.equal(loadConfig({ WAITING_TEXT: '' }).desk.waitingText, '', 'an empty text sends nothing');
});

t.test('canned replies come from a JSON or YAML file, checked at start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'canned-'));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const yaml = loadConfig({ CANNED_REPLIES: file('canned.yaml', 'hours: We are open Mon-Fri 9:00-18:00.\nThanks: |\n  Thank you!\n') }).desk.cannedReplies;
  t.same(
    [...yaml],
    [
      ['hours', 'We are open Mon-Fri 9:00-18:00.'],
      ['thanks', 'Thank you!'],
    ],
  );
  const json = loadConfig({ CANNED_REPLIES: file('canned.json', '{"bye": "Goodbye!"}') }).desk.cannedReplies;
  t.equal(json.get('bye'), 'Goodbye!');
  t.match(refusal({ CANNED_REPLIES: join(dir, 'missing.yaml') }), /^CANNED_REPLIES cannot be read \(ENOENT\)/);
  t.match(refusal({ CANNED_REPLIES: file('bad.json', '{"bye": ') }), /^CANNED_REPLIES is not valid JSON/);
  t.match(refusal({ CANNED_REPLIES: file('list.yaml', '- a\n- b\n') }), /^CANNED_REPLIES does not hold a map/);
  t.match(refusal({ CANNED_REPLIES: file('code.yaml', 'two words: hi\n') }), /^CANNED_REPLIES has a code "two words"/);
  t.match(refusal({ CANNED_REPLIES: file('empty.yaml', 'hours: ""\n') }), /^CANNED_REPLIES has no text for "hours"/);
});

t.test('FIRST_RESPONSE_SLA_S is off unless set, and refused with one line outside 10 s to a day', async (t) => {
  t.equal(loadConfig({}).desk.firstResponseSlaMs, undefined, 'off by default');
  t.equal(loadConfig({ FIRST_RESPONSE_SLA_S: '' }).desk.firstResponseSlaMs, undefined, 'empty is unset');
  t.equal(loadConfig({ FIRST_RESPONSE_SLA_S: '300' }).desk.firstResponseSlaMs, 300_000);
  for (const value of ['9', '86401', '5m', '-1', '1.5'])
    t.match(refusal({ FIRST_RESPONSE_SLA_S: value }), /^FIRST_RESPONSE_SLA_S is malformed: a whole number from 10 to 86400/, value);
});

t.test('WINDOW_WARNING_MS is 2 hours unless set, 0 turns it off, and a bad value is refused with one line', async (t) => {
  t.equal(loadConfig({}).desk.windowWarningMs, 7_200_000, 'two hours by default');
  t.equal(loadConfig({ WINDOW_WARNING_MS: '' }).desk.windowWarningMs, 7_200_000, 'empty is unset');
  t.equal(loadConfig({ WINDOW_WARNING_MS: '0' }).desk.windowWarningMs, 0, 'off');
  t.equal(loadConfig({ WINDOW_WARNING_MS: '172800000' }).desk.windowWarningMs, 172_800_000, 'up to the whole window');
  for (const value of ['172800001', '2h', '-1', '1.5', 'off'])
    t.match(refusal({ WINDOW_WARNING_MS: value }), /^WINDOW_WARNING_MS is malformed: a whole number from 0 to 172800000/, value);
});

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
