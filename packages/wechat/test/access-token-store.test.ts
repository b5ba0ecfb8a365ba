import { WechatApiSimulator } from '@wxim/sandbox';
import { betweenCommands, startTestRedis, testPrefix } from '@wxim/testkit';
import {
  type AccessTokenKeys,
  AccessTokenStore,
  type AccessTokenStoreOptions,
  WechatCredentialError,
  WechatTransientError,
  clientCredentialToken,
  stableToken,
} from '@wxim/wechat';
import { stateKeys } from '@wxim/state';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';

const APP_ID = 'wx0123456789abcdef';
const SECRET = 'sandbox-app-secret-00000000000000';

const redisServer = await startTestRedis();
const sim = new WechatApiSimulator({ appId: APP_ID, secret: SECRET });
const apiBase = await sim.listen();
t.teardown(async () => {
  await sim.close();
  await redisServer.close();
});

/** A process of the fleet: its own Redis connection and fetcher, the shared keys. */
function fleetProcess(t: Test, keys: AccessTokenKeys, options: Partial<AccessTokenStoreOptions> & { secret?: string; kind?: 'stable' | 'cgi' } = {}) {
  const redis = new Redis(redisServer.url);
  const credentials = { apiBase, appId: APP_ID, secret: options.secret ?? SECRET };
  const fetcher = options.kind === 'cgi' ? clientCredentialToken(credentials) : stableToken(credentials);
  const fetches: string[] = [];
  const store = new AccessTokenStore({
    redis,
    keys,
    fetcher,
    onFetch: (api, outcome, forced) => fetches.push(`${api} ${outcome}${forced ? ' forced' : ''}`),
    ...options,
  });
  t.teardown(async () => {
    await fetcher.close();
    redis.disconnect();
  });
  return { store, fetches, redis };
}

t.test('two processes asking at once cause exactly one fetch, and all get the same token', async (t) => {
  const keys = stateKeys(testPrefix()).accessToken;
  const a = fleetProcess(t, keys);
  const b = fleetProcess(t, keys);
  const before = sim.stats.tokenFetches.stable;
  sim.answerLate('stable_token', 300); // the fetch takes a while: the others must wait for it, not fetch
  const tokens = await Promise.all([...Array.from({ length: 10 }, () => a.store.get()), ...Array.from({ length: 10 }, () => b.store.get())]);
  t.equal(new Set(tokens).size, 1, 'one token for everyone');
  t.equal(sim.stats.tokenFetches.stable - before, 1, 'WeChat saw one fetch');
  t.same([...a.fetches, ...b.fetches], ['stable_token ok'], 'one fetch counted, by one process');
  const stored = await a.store.read();
  t.equal(stored?.token, tokens[0]);
  t.ok(stored!.expiresAt > Date.now() + 7000_000, 'kept for its two hours');
  const ttl = await a.redis.pttl(keys.token);
  t.ok(ttl > 7000_000 && ttl <= 7200_000, `Redis drops it when it expires (${ttl} ms)`);
  t.equal(await b.store.get(), tokens[0], 'later calls read the store');
  t.equal(sim.stats.tokenFetches.stable - before, 1);
});

t.test('a token within the renewal margin is renewed by one process; the others use it meanwhile', async (t) => {
  const keys = stateKeys(testPrefix()).accessToken;
  const a = fleetProcess(t, keys);
  const b = fleetProcess(t, keys);
  const old = await a.store.get();
  // As if it were near its end: 4 minutes left, under the 5-minute margin.
  await a.redis.set(keys.token, JSON.stringify({ token: old, expiresAt: Date.now() + 240_000 }), 'PX', 240_000);
  sim.answerLate('stable_token', 300);
  const [fromA, fromB] = await Promise.all([a.store.get(), (async () => (await new Promise((r) => setTimeout(r, 50)), b.store.get()))()]);
  t.equal(fromB, old, 'the process without the lock goes on with the old token, which still works');
  t.ok(fromA.length > 0);
  t.equal(a.fetches.length + b.fetches.length, 2, 'the first fetch, then one renewal');
  t.ok((await a.store.read())!.expiresAt > Date.now() + 300_000, 'the renewed token is stored');
});

t.test('invalidate() of a token that is no longer the stored one changes nothing', async (t) => {
  const keys = stateKeys(testPrefix()).accessToken;
  const a = fleetProcess(t, keys);
  const token = await a.store.get();
  const stored = await a.store.read();
  t.equal(await a.store.invalidate('an-older-token-another-process-used'), false, 'not dropped');
  t.same(await a.store.read(), stored, 'the stored token is untouched');
  t.equal(await a.store.get(), token);
  t.same(a.fetches, ['stable_token ok'], 'no fetch');
  t.equal(await a.store.invalidate(token), true, 'the stored token itself is dropped');
  t.equal(await a.store.read(), undefined);
});

t.test('a process that gets no lock and finds no token waits a bounded time, then fails as transient', async (t) => {
  const keys = stateKeys(testPrefix()).accessToken;
  const a = fleetProcess(t, keys, { waitMs: 300, pollMs: 50 });
  await a.redis.set(keys.lock, 'a process that died while fetching', 'PX', 5000);
  const started = Date.now();
  await t.rejects(a.store.get(), WechatTransientError);
  const waited = Date.now() - started;
  t.ok(waited >= 300 && waited < 2000, `waited ${waited} ms`);
  t.same(a.fetches, [], 'it did not fetch on its own');
});

t.test('a process whose fetch outlasted its lock leaves alone the lock another process took meanwhile', async (t) => {
  const keys = stateKeys(testPrefix()).accessToken;
  const a = fleetProcess(t, keys, { lockMs: 100 });
  sim.answerLate('stable_token', 400);
  const fetched = a.store.get();
  await new Promise((r) => setTimeout(r, 250));
  t.equal(await a.redis.set(keys.lock, 'another process', 'PX', 5000, 'NX'), 'OK', "another process takes the expired lock while the first's fetch goes on");
  t.ok((await fetched).length > 0);
  t.equal(await a.redis.get(keys.lock), 'another process', "the first's release left the other's lock");
});

t.test("a lock taken by another process between its holder looking at it and releasing it stays the other's", async (t) => {
  const keys = stateKeys(testPrefix()).accessToken;
  const redis = betweenCommands(redisServer.url, keys.lock, async () => {
    await a.redis.del(keys.lock); // as if it expired here
    await a.redis.set(keys.lock, 'another process', 'PX', 5000, 'NX');
  });
  t.teardown(() => redis.disconnect());
  const a = fleetProcess(t, keys, { redis });
  t.ok((await a.store.get()).length > 0);
  t.equal(await a.redis.get(keys.lock), 'another process', "the other's lock is still held");
});

t.test('stable_token handing back the very token that failed is followed by one forced refresh', async (t) => {
  const keys = stateKeys(testPrefix()).accessToken;
  const a = fleetProcess(t, keys);
  const failed = await a.store.get();
  sim.invalidateTokens({ stableStaysStale: true });
  t.equal(await a.store.invalidate(failed), true);
  const fresh = await a.store.get();
  t.not(fresh, failed, 'a new token');
  t.same(a.fetches, ['stable_token ok', 'stable_token ok', 'stable_token ok forced']);
  // WeChat takes one forced refresh per 30 s: a second within that is not asked for.
  sim.invalidateTokens({ stableStaysStale: true });
  await a.store.invalidate(fresh);
  await t.rejects(a.store.get(), WechatTransientError);
  t.equal(a.fetches.filter((f) => f.endsWith('forced')).length, 1, 'still one forced refresh');
  sim.invalidateTokens();
});

t.test('cgi-bin/token works the same way, and a wrong AppSecret never shows in the error', async (t) => {
  const keys = stateKeys(testPrefix()).accessToken;
  const a = fleetProcess(t, keys, { kind: 'cgi' });
  const before = sim.stats.tokenFetches.token;
  const [one, two] = await Promise.all([a.store.get(), a.store.get()]);
  t.equal(one, two);
  t.equal(sim.stats.tokenFetches.token - before, 1);
  const wrong = fleetProcess(t, stateKeys(testPrefix()).accessToken, { kind: 'cgi', secret: 'a-wrong-secret-that-must-not-leak' });
  const err = await wrong.store.get().catch((e: unknown) => e);
  t.type(err, WechatCredentialError);
  t.equal((err as WechatCredentialError).code, 40125);
  t.notOk((err as WechatCredentialError).renewable, 'configuration: no retry mends it');
  for (const text of [(err as Error).message, JSON.stringify(err), String((err as Error).stack)]) t.notMatch(text, /a-wrong-secret|secret=/);
  t.same(wrong.fetches, ['token 40125']);
});
