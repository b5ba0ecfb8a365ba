import {
  ImCredentialError,
  ImNotImportedError,
  ImPermanentError,
  ImRateLimitedError,
  ImTransientError,
  UserSigCache,
  classifyImError,
  verifyUserSig,
} from '@wxim/im';
import { imMessageIds, userIdFor } from '@wxim/state';
import t from 'tap';

const KEY = 'testsecretkey000000000000000000000000000000000000000000000000000';

t.test('IM error codes fall into the classes of docs/tencent-im.md', async (t) => {
  const cases: [number, unknown][] = [
    [20004, ImTransientError],
    [90994, ImTransientError],
    [91000, ImTransientError],
    [40006, ImTransientError],
    [70202, ImTransientError],
    [70500, ImTransientError],
    [60007, ImRateLimitedError],
    [70050, ImRateLimitedError],
    [70001, ImCredentialError],
    [70013, ImCredentialError],
    // The app disabled, its package expired, the caller's IP refused: the setup, mended in the console.
    [60006, ImCredentialError],
    [60016, ImCredentialError],
    [60017, ImCredentialError],
    [60020, ImCredentialError],
    [60021, ImCredentialError],
    [20003, ImNotImportedError],
    [90048, ImNotImportedError],
    [93000, ImPermanentError],
    [80001, ImPermanentError],
    [20006, ImPermanentError],
    [70399, ImPermanentError],
    [90001, ImPermanentError],
  ];
  for (const [code, cls] of cases) t.type(classifyImError('openim/sendmsg', code, 'x'), cls as never, String(code));
  t.equal((classifyImError('c', 70050, '') as ImRateLimitedError).retryAfterMs, 60_000, '70050 waits a minute');
  const long = classifyImError('openim/sendmsg', 90001, 'x'.repeat(5000));
  t.ok(long.message.length < 260, `IM's ErrorInfo is cut for logs and the dashboard (${long.message.length} characters)`);
  t.ok((classifyImError('c', 70001, '') as ImCredentialError).renewable);
  t.notOk((classifyImError('c', 70013, '') as ImCredentialError).renewable, 'a configuration error is not mended by renewal');
  t.equal(classifyImError('openim/sendmsg', 80001, 'content security').message, 'IM openim/sendmsg failed: 80001 content security');
});

t.test('the admin UserSig verifies, is reused until half its life, then renewed', async (t) => {
  let now = 1_800_000_000_000;
  const cache = new UserSigCache(1400000042, KEY, 'administrator', () => now);
  const first = cache.get();
  t.match(verifyUserSig(first, KEY), { identifier: 'administrator', sdkAppId: 1400000042 });
  t.equal(verifyUserSig(first, 'another key'), undefined, 'a sig from another key is refused');
  t.equal(verifyUserSig(`${first.slice(0, -4)}AAAA`, KEY), undefined, 'a tampered sig is refused');
  now += 3600_000;
  t.equal(cache.get(), first, 'cached');
  t.equal(cache.generations, 1);
  now += 4 * 24 * 3600_000;
  cache.get();
  t.equal(cache.generations, 2, 'renewed after half of its 7 days');
  t.ok(verifyUserSig(cache.renew(), KEY));
  t.equal(cache.generations, 3, 'renewed on demand (after 70001)');
});

t.test('MsgSeq and MsgRandom are stable per push, differ between pushes, and MsgSeq follows the store order', async (t) => {
  const a = imMessageIds('m-openid-1', 41);
  t.same(imMessageIds('m-openid-1', 41), a, 'the same push: the same pair');
  t.not(imMessageIds('m-openid-2', 41).msgRandom, a.msgRandom, 'another push: another MsgRandom');
  t.ok(imMessageIds('m-openid-2', 42).msgSeq > a.msgSeq, 'a push stored later sorts after it in IM');
  t.equal(imMessageIds('m-openid-3', 2 ** 32 + 5).msgSeq, 5, 'a uint32');
  const handed = imMessageIds('m-openid-1', 41, 'agent_b');
  t.not(handed.msgRandom, a.msgRandom, 'to the agent the customer was handed on to: another MsgRandom (IM leaves the recipient out of its repeat check)');
  t.same(imMessageIds('m-openid-1', 41, 'agent_b'), handed, 'the same for every attempt to that agent');
  t.equal(handed.msgSeq, a.msgSeq, 'in the same place');
  for (const v of Object.values(a)) t.ok(Number.isInteger(v) && v >= 0 && v <= 0xffffffff);
});

t.test('UserIDs stay within 32 bytes of [A-Za-z0-9_-]: an openid that is one stays itself, any other becomes a digest, never a lossy rewrite', async (t) => {
  const openid = 'oUaUm5kQh9bPq-_Z0Aq1yTQ2aBcD';
  t.equal(userIdFor(openid, 1), openid);
  t.equal(userIdFor(openid, 2), `${openid}_2`);
  t.equal(userIdFor('o'.repeat(32), 40), `${'o'.repeat(29)}_14`);
  const odd = ['has spaces/and:colons', 'oCollide/x000000000000000000', 'oCollide+x000000000000000000', 'o'.repeat(33), 'ö'];
  const ids = odd.map((o) => userIdFor(o, 1));
  for (const id of ids) t.match(id, /^[A-Za-z0-9_-]{1,32}$/);
  t.equal(new Set(ids).size, odd.length, 'different openids, different UserIDs');
  t.not(userIdFor('oCollide/x000000000000000000', 1), 'oCollide_x000000000000000000', 'not the rewrite another openid is');
  t.equal(userIdFor('oCollide/x000000000000000000', 1), ids[1], 'the same openid, the same UserID');
});
