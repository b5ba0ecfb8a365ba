import t from 'tap';
import { mediaEntryId, signMediaToken, verifyMediaToken } from '@wxim/state';

const SECRET = 'a-media-url-secret-of-32-characters-at-least';
const id = mediaEntryId('voice', 'MEDIA_ID_1');
const now = Date.UTC(2026, 0, 1);
const later = Math.floor(now / 1000) + 3600;

t.test('a token signed here verifies until it expires, and names its entry', async (t) => {
  const token = signMediaToken(SECRET, id, later);
  t.same(verifyMediaToken(SECRET, token, now), { ok: true, id, expiresAt: later });
  t.same(verifyMediaToken(SECRET, token, later * 1000), { ok: false, reason: 'expired' }, 'expired at its second');
});

t.test('a changed signature, id, expiry or key is refused as unsigned', async (t) => {
  const token = signMediaToken(SECRET, id, later);
  const [tid, exp, sig] = token.split('.') as [string, string, string];
  const flipped = `${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`;
  t.same(verifyMediaToken(SECRET, `${tid}.${exp}.${flipped}`, now), { ok: false, reason: 'signature' });
  t.same(verifyMediaToken(SECRET, `${mediaEntryId('voice', 'OTHER')}.${exp}.${sig}`, now), { ok: false, reason: 'signature' });
  t.same(verifyMediaToken(SECRET, `${tid}.${later + 86400}.${sig}`, now), { ok: false, reason: 'signature' }, 'a longer life cannot be written in');
  t.same(verifyMediaToken(`${SECRET}x`, token, now), { ok: false, reason: 'signature' });
});

t.test('an expired token with a forged signature says signature, not expired', async (t) => {
  const past = Math.floor(now / 1000) - 10;
  const token = signMediaToken('another-secret-another-secret-another', id, past);
  t.same(verifyMediaToken(SECRET, token, now), { ok: false, reason: 'signature' });
});

t.test('anything not shaped like a token is malformed: path tricks, padding, extra parts', async (t) => {
  const token = signMediaToken(SECRET, id, later);
  for (const bad of ['', '..', `../${token}`, `${token}/..`, `${token}=`, `${token}.x`, token.replace(/\./g, '/'), `%2e%2e%2f${token}`, `${id}.${later}`])
    t.same(verifyMediaToken(SECRET, bad, now), { ok: false, reason: 'malformed' }, JSON.stringify(bad));
});

t.test('entry ids are stable per media id and part, and differ between them', async (t) => {
  t.equal(mediaEntryId('voice', 'M1'), mediaEntryId('voice', 'M1'));
  t.not(mediaEntryId('voice', 'M1'), mediaEntryId('thumb', 'M1'));
  t.not(mediaEntryId('voice', 'M1'), mediaEntryId('voice', 'M2'));
  t.match(mediaEntryId('video', 'M1'), /^[A-Za-z0-9_-]{32}$/);
  t.throws(() => signMediaToken(SECRET, '../etc/passwd', later));
});
