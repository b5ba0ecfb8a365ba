import { urlSignature } from '@wxim/wechat';
import { request } from 'undici';
import t from 'tap';
import { TOKEN, startGateway, startTestRedis } from '@wxim/testkit';

// Random requests from a fixed seed (the same every run; FUZZ_SEED to try others): what a client
// sends is answered with a 2xx or a 4xx, never a 5xx, and a push is stored exactly when it is
// answered 200.
const seed = Number(process.env['FUZZ_SEED'] ?? 20261201);
const redis = await startTestRedis();
t.teardown(() => redis.close());
const gw = await startGateway(redis.url, { WECHAT_ENCODING_AES_KEY: '' });
t.teardown(() => gw.close());

function prng(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(seed);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const CHAR_REFS = [
  '&#x110000;',
  '&#xD800;',
  '&#xDFFF;',
  '&#0;',
  '&#x1F;',
  '&#xFFFE;',
  `&#${'9'.repeat(30)};`,
  '&#x41;',
  '&#65;',
  '&#x1F600;',
  '&amp;',
  '&lt;',
  '&bogus;',
  '&#;',
  '&#x;',
];
const VALUES = ['', 'x', '%', '%zz', '%00', '%E4%BD%A0', '你好', 'a'.repeat(5000), '0', '-1', '1e9', '[]', '{}'];

function signedParams(): [string, string][] {
  const timestamp = String(Math.floor(Date.now() / 1000) + (random() < 0.1 ? pick([-400, 400, 1e9]) : 0));
  const nonce = String(Math.floor(random() * 1e9));
  return [
    ['signature', urlSignature(TOKEN, timestamp, nonce)],
    ['timestamp', timestamp],
    ['nonce', nonce],
    ['openid', 'o'],
  ];
}

/** A query: mostly a valid signature, then parameters repeated, dropped, added or garbled. */
function query(): string {
  const params = signedParams();
  const shape = random();
  if (shape < 0.15) params.push([pick(['signature', 'timestamp', 'nonce', 'openid', 'echostr']), pick(VALUES)]);
  else if (shape < 0.25) params.splice(Math.floor(random() * params.length), 1);
  else if (shape < 0.35) params.push([pick(['encrypt_type', 'msg_signature', 'x[y]', 'a.b', '']), pick(VALUES)]);
  else if (shape < 0.45) params[Math.floor(random() * params.length)]![1] = pick(VALUES);
  const raw = params.map(([k, v]) => (random() < 0.1 ? `${k}=${v}` : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join('&');
  return random() < 0.05 ? `${raw}&&=&${pick(VALUES)}` : raw;
}

/** A text push from `openid`, its content mostly plain, sometimes with character references or broken XML. */
function body(openid: string): string {
  const content = Array.from({ length: 1 + Math.floor(random() * 4) }, () => (random() < 0.5 ? pick(CHAR_REFS) : pick(['hi', '<', '>', ']]>', '&', '"']))).join(
    '',
  );
  const inCdata = random() < 0.3;
  const xml =
    `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[${openid}]]></FromUserName>` +
    `<CreateTime>${Math.floor(Date.now() / 1000)}</CreateTime><MsgType><![CDATA[text]]></MsgType>` +
    `<Content>${inCdata ? `<![CDATA[${content}]]>` : content}</Content><MsgId>${Math.floor(random() * 1e15)}</MsgId></xml>`;
  if (random() < 0.1) return xml.slice(0, Math.floor(random() * xml.length));
  return xml;
}

t.test(`random queries and bodies (seed ${seed}): never a 5xx; stored exactly when answered 200`, async (t) => {
  const answered200 = new Set<string>();
  const statuses = new Map<number, number>();
  for (let i = 0; i < 400; i++) {
    const openid = `oFuzz${String(i).padStart(23, '0')}`;
    const get = random() < 0.15;
    const res = await request(`${gw.url}/wechat?${query()}${get ? '&echostr=e' : ''}`, {
      method: get ? 'GET' : 'POST',
      ...(get ? {} : { body: body(openid), headers: { 'content-type': 'text/xml' } }),
    });
    await res.body.dump();
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    if (res.statusCode >= 500) t.fail(`request ${i} was answered ${res.statusCode}`);
    if (!get && res.statusCode === 200) answered200.add(openid);
  }
  t.pass(`answers: ${JSON.stringify(Object.fromEntries(statuses))}`);
  t.ok(answered200.size > 20 && (statuses.get(400) ?? 0) > 20 && (statuses.get(401) ?? 0) > 20, 'the mix reached storing as well as each refusal');
  const stored = new Set((await gw.gateway.queue.getJobs(['wait'])).map((j) => j.data.message.fromUserName));
  t.same([...stored].sort(), [...answered200].sort(), 'stored exactly the pushes answered 200');
  const health = await request(`${gw.url}/readyz`);
  t.equal(health.statusCode, 200, 'and the gateway still serves');
  await health.body.dump();
});
