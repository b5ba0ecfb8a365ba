import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { MediaError, type MediaErrorReason, addressKind, fetchMedia, isAllowedHost, mayBeInternal } from '../src/media-fetch.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const limits = { maxBytes: 1024 * 1024, timeoutMs: 2000 };

/**
 * A file server on 127.0.0.1 answering by path; `seen` lists the paths it was asked for, and
 * `local` is fetch options that allow it by its exact host:port (a loopback address needs that).
 */
async function serve(routes: Record<string, Handler>) {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    seen.push(path);
    const route = routes[path];
    if (route === undefined) {
      res.statusCode = 404;
      res.end();
    } else route(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const local = { ...limits, allowedHosts: [`127.0.0.1:${port}`] };
  return { port, base: `http://127.0.0.1:${port}`, seen, local };
}

const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
const file =
  (type: string, body: Buffer | string = png): Handler =>
  (_req, res) => {
    res.setHeader('content-type', type);
    res.end(body);
  };
const redirect =
  (location: string, status = 302): Handler =>
  (_req, res) => {
    res.statusCode = status;
    res.setHeader('location', location);
    res.end();
  };

async function refusal(t: Test, work: Promise<unknown>, reason: MediaErrorReason): Promise<MediaError | undefined> {
  try {
    await work;
    t.fail(`expected ${reason}, but the fetch succeeded`);
    return undefined;
  } catch (err) {
    t.type(err, MediaError);
    t.equal((err as MediaError).reason, reason, (err as Error).message);
    return err as MediaError;
  }
}

t.test('addresses: loopback, private, link-local, unspecified, multicast and their IPv4-mapped forms are told from public ones', async (t) => {
  const kinds: Record<string, string> = {
    '8.8.8.8': 'public',
    '172.32.0.1': 'public',
    '100.128.0.1': 'public',
    '127.0.0.1': 'loopback',
    '127.255.0.9': 'loopback',
    '10.1.2.3': 'private',
    '172.16.0.1': 'private',
    '172.31.255.255': 'private',
    '192.168.1.1': 'private',
    '100.64.0.1': 'private',
    '169.254.169.254': 'link-local',
    '0.0.0.0': 'unspecified',
    '224.0.0.251': 'multicast',
    '255.255.255.255': 'reserved',
    '2606:4700:4700::1111': 'public',
    '::1': 'loopback',
    '[::1]': 'loopback',
    '::': 'unspecified',
    'fd12:3456::1': 'private',
    'fc00::1': 'private',
    'fe80::1': 'link-local',
    'fe80::1%eth0': 'link-local',
    'ff02::1': 'multicast',
    '::ffff:8.8.8.8': 'public',
    '::ffff:127.0.0.1': 'loopback',
    '::ffff:7f00:1': 'loopback',
    '::ffff:10.0.0.1': 'private',
    '::ffff:169.254.169.254': 'link-local',
    '0:0:0:0:0:ffff:c0a8:0101': 'private',
    '64:ff9b::a00:1': 'private',
    '2002:c0a8:0101::1': 'private',
    '2001:db8::1': 'reserved',
    'not an address': 'reserved',
    '1.2.3': 'reserved',
  };
  for (const [ip, kind] of Object.entries(kinds)) t.equal(addressKind(ip), kind, ip);
});

t.test('MEDIA_ALLOWED_HOSTS entries: exact host, host with port, *.suffix, IPv6', async (t) => {
  const allowed = (entries: string[], url: string) => isAllowedHost(entries, new URL(url));
  t.ok(allowed(['cdn.example.com'], 'https://CDN.example.com/a'));
  t.notOk(allowed(['cdn.example.com'], 'https://example.com/a'));
  t.ok(allowed(['cdn.example.com:8443'], 'https://cdn.example.com:8443/a'));
  t.notOk(allowed(['cdn.example.com:8443'], 'https://cdn.example.com/a'), 'another port');
  t.ok(allowed(['cdn.example.com:443'], 'https://cdn.example.com/a'), 'the default port counts');
  t.ok(allowed(['*.myqcloud.com'], 'https://bucket.cos.ap-shanghai.myqcloud.com/a'));
  t.notOk(allowed(['*.myqcloud.com'], 'https://myqcloud.com/a'), 'a wildcard names subdomains only');
  t.notOk(allowed(['*.myqcloud.com'], 'https://evilmyqcloud.com/a'));
  t.ok(allowed(['[::1]:8080'], 'http://[::1]:8080/a'));
  t.ok(allowed(['0:0:0:0:0:0:0:1'], 'http://[::1]/a'), 'IPv6 in any spelling');
  t.notOk(allowed([], 'http://127.0.0.1/a'));
});

t.test('only an exact host:port entry lets its host be on a loopback or private address', async (t) => {
  const internal = (entries: string[], url: string) => mayBeInternal(entries, new URL(url));
  t.ok(internal(['files.corp:8080'], 'http://files.corp:8080/a'));
  t.ok(internal(['files.corp:443'], 'https://files.corp/a'), 'the default port, named');
  t.ok(internal(['[fd00::5]:9000'], 'http://[fd00::5]:9000/a'));
  t.notOk(internal(['files.corp:8080'], 'http://files.corp:8081/a'), 'another port');
  t.notOk(internal(['files.corp'], 'http://files.corp:8080/a'), 'a host without a port');
  t.notOk(internal(['10.0.0.5'], 'http://10.0.0.5/a'), 'an address without a port');
  t.notOk(internal(['*.corp'], 'http://files.corp/a'), 'a wildcard');
  t.notOk(internal(['*.corp:8080'], 'http://files.corp:8080/a'), 'a wildcard, even with a port');
  t.notOk(internal([], 'http://127.0.0.1/a'));
});

t.test('a wildcard or a host without a port only narrows which hosts are fetched: every address must still be public, redirects included', async (t) => {
  const { base, port, seen } = await serve({
    '/a.png': file('image/png'),
    '/away': (req, res) => redirect(`http://inside.example.test:${req.headers.host?.split(':')[1]}/inside.png`)(req, res),
    '/inside.png': file('image/png'),
  });
  // Whoever runs a listed name's DNS points it at the relay's own machine.
  const toLoopback = async () => [{ address: '127.0.0.1', family: 4 }];
  const url = `http://files.example.test:${port}/a.png`;
  for (const entry of ['*.example.test', 'files.example.test', `*.example.test:${port}`]) {
    const error = await refusal(t, fetchMedia(url, { ...limits, allowedHosts: [entry], resolve: toLoopback }), 'not_allowed');
    t.equal(error?.message, `${url}: not a public address`, entry);
  }
  await refusal(t, fetchMedia(`${base}/a.png`, { ...limits, allowedHosts: ['127.0.0.1'] }), 'not_allowed');
  t.same(seen, [], 'none of them was asked');
  const named = await fetchMedia(url, { ...limits, allowedHosts: [`files.example.test:${port}`], resolve: toLoopback });
  t.same(named.bytes, png, 'named with its port, it is fetched');
  const hop = await refusal(
    t,
    fetchMedia(`${base}/away`, { ...limits, allowedHosts: [`127.0.0.1:${port}`, '*.example.test'], resolve: toLoopback }),
    'not_allowed',
  );
  t.equal(hop?.message, `http://inside.example.test:${port}/inside.png: not a public address`);
  t.same(seen, ['/a.png', '/away'], "the redirect's target was not asked");
});

t.test('a loopback address is refused by default, before any connection', async (t) => {
  const { base, seen } = await serve({ '/a.png': file('image/png') });
  const error = await refusal(t, fetchMedia(`${base}/a.png?sign=SECRET`, { ...limits, allowedHosts: [] }), 'not_allowed');
  t.equal(error?.message, `${base}/a.png: not a public address`, 'no query string in the message');
  t.same(seen, []);
});

t.test('a host on MEDIA_ALLOWED_HOSTS is fetched; with a list, hosts off it are refused', async (t) => {
  const named =
    (disposition: string): Handler =>
    (req, res) => {
      res.setHeader('content-disposition', disposition);
      file('image/jpeg')(req, res);
    };
  const { base, port, local } = await serve({
    '/a.png': file('image/png'),
    '/abcd/f7c6ad': file('image/png; charset=binary'),
    '/d1': named('attachment; filename="../../etc/photo.jpg"'),
    '/d2': named("attachment; filename=x.jpg; filename*=UTF-8''%E5%9B%BE%E7%89%87.jpg"),
  });
  const got = await fetchMedia(`${base}/a.png`, local);
  t.same(got, { bytes: png, contentType: 'image/png', filename: 'a.png' });
  const cos = await fetchMedia(`${base}/abcd/f7c6ad`, local);
  t.equal(cos.filename, 'f7c6ad.png', 'a name without extension gets one from its type: WeChat judges files by name');
  t.equal((await fetchMedia(`${base}/d1`, local)).filename, 'photo.jpg', "the server's name, without its path");
  t.equal((await fetchMedia(`${base}/d2`, local)).filename, '图片.jpg');
  await refusal(t, fetchMedia(`${base}/a.png`, { ...local, allowedHosts: ['cdn.example.com'] }), 'not_allowed');
  await refusal(t, fetchMedia(`${base}/a.png`, { ...local, allowedHosts: [`127.0.0.1:${port + 1}`] }), 'not_allowed');
});

t.test('the connection goes to the address that was checked, not to a second look-up', async (t) => {
  const { port, local } = await serve({ '/x.png': (req, res) => file('image/png', req.headers.host ?? '')(req, res) });
  let lookups = 0;
  const resolve = async () => {
    lookups++;
    return [{ address: '127.0.0.1', family: 4 }];
  };
  // media.test resolves nowhere but through `resolve`: a second look-up by the socket would fail.
  const got = await fetchMedia(`http://media.test:${port}/x.png`, { ...local, allowedHosts: [`media.test:${port}`], resolve });
  t.equal(got.bytes.toString(), `media.test:${port}`, 'the Host header names the host');
  t.equal(lookups, 1);
  const mixed = async () => [
    { address: '93.184.215.14', family: 4 },
    { address: '10.0.0.7', family: 4 },
  ];
  const error = await refusal(t, fetchMedia('http://two-faced.test/x.png', { ...limits, allowedHosts: [], resolve: mixed }), 'not_allowed');
  t.equal(error?.message, 'http://two-faced.test/x.png: not a public address', 'every address is checked, not only the first');
});

t.test('a refused address is not named: the message says "not a public address", never the address a name led to or its kind', async (t) => {
  const intranet = async () => [{ address: '10.0.0.5', family: 4 }];
  const error = await refusal(t, fetchMedia('http://intranet.test/payroll.png', { ...limits, allowedHosts: [], resolve: intranet }), 'not_allowed');
  t.equal(error?.message, 'http://intranet.test/payroll.png: not a public address');
  t.notMatch(error?.message, /10\.0\.0\.5|private/);
});

t.test('a file past maxBytes is cut off: by its stated length, or while it streams', async (t) => {
  const big = Buffer.alloc(300_000, 1);
  const { base, local } = await serve({
    '/stated.png': file('image/png', big),
    '/streamed.png': (_req, res) => {
      res.setHeader('content-type', 'image/png');
      res.write(big); // chunked: no length stated
      res.write(big);
      setTimeout(() => res.end(big), 200);
    },
  });
  await refusal(t, fetchMedia(`${base}/stated.png`, { ...local, maxBytes: 100_000 }), 'too_large');
  const started = Date.now();
  const error = await refusal(t, fetchMedia(`${base}/streamed.png`, { ...local, maxBytes: 400_000 }), 'too_large');
  t.match(error?.message, /too large/);
  t.ok(Date.now() - started < 1000, 'without waiting for the rest');
  t.equal((await fetchMedia(`${base}/stated.png`, { ...local, maxBytes: 300_000 })).bytes.length, 300_000, 'exactly maxBytes is taken');
});

t.test('a slow server is given up on after timeoutMs, whether it never answers, never finishes or never resolves', async (t) => {
  const { base, local } = await serve({
    '/silent.png': () => {},
    '/dribble.png': (_req, res) => {
      res.setHeader('content-type', 'image/png');
      res.write(png);
    },
  });
  for (const path of ['/silent.png', '/dribble.png']) {
    const started = Date.now();
    await refusal(t, fetchMedia(`${base}${path}`, { ...local, timeoutMs: 300 }), 'timeout');
    t.ok(Date.now() - started < 1500, `${path} stopped near the limit`);
  }
  const hanging = () => new Promise<never>(() => {});
  await refusal(t, fetchMedia('http://slow-dns.test/a.png', { ...limits, allowedHosts: [], timeoutMs: 300, resolve: hanging }), 'timeout');
});

t.test('redirects are followed up to three times, each hop checked again', async (t) => {
  const { base, local } = await serve({
    '/a.png': file('image/png'),
    '/r1': redirect('/r2'),
    '/r2': redirect('/r3', 301),
    '/r3': (req, res) => redirect(`http://${req.headers.host}/a.png`, 307)(req, res),
    '/r0': redirect('/r1'),
    '/to-private': redirect('http://10.0.0.1/internal.png'),
    '/to-metadata': redirect('http://[::ffff:169.254.169.254]/latest/meta-data'),
    '/to-localhost': (req, res) => redirect(`http://${req.headers.host?.replace('127.0.0.1', 'localhost')}/a.png`)(req, res),
    '/to-file': redirect('file:///etc/passwd'),
    '/nowhere': (_req, res) => {
      res.statusCode = 302;
      res.end();
    },
  });
  t.same((await fetchMedia(`${base}/r1`, local)).bytes, png, 'three redirects');
  t.equal((await refusal(t, fetchMedia(`${base}/r0`, local), 'http_status'))?.status, 307, 'a fourth is refused');
  await refusal(t, fetchMedia(`${base}/to-private`, local), 'not_allowed');
  await refusal(t, fetchMedia(`${base}/to-metadata`, local), 'not_allowed');
  await refusal(t, fetchMedia(`${base}/to-localhost`, local), 'not_allowed');
  await refusal(t, fetchMedia(`${base}/to-file`, local), 'not_allowed');
  await refusal(t, fetchMedia(`${base}/nowhere`, local), 'http_status');
});

t.test('a file of a type not accepted is refused before its body is read', async (t) => {
  const { base, local } = await serve({ '/page': file('text/html; charset=utf-8', '<html>'), '/a.png': file('image/png'), '/untyped': file('') });
  await refusal(t, fetchMedia(`${base}/page`, { ...local, acceptTypes: ['image/jpeg', 'image/png'] }), 'bad_type');
  await refusal(t, fetchMedia(`${base}/untyped`, { ...local, acceptTypes: ['image/*'] }), 'bad_type');
  t.equal((await fetchMedia(`${base}/a.png`, { ...local, acceptTypes: ['image/*'] })).contentType, 'image/png');
});

t.test('only http and https: file:, ftp: and other schemes are refused', async (t) => {
  for (const url of ['file:///etc/passwd', 'ftp://127.0.0.1/a.png', 'gopher://127.0.0.1:70/_x', 'data:image/png;base64,iVBORw0KGgo=', 'not a url']) {
    await refusal(t, fetchMedia(url, { ...limits, allowedHosts: [] }), 'not_allowed');
  }
});

t.test('a failing server: its HTTP status, or a network error', async (t) => {
  const { base, local } = await serve({});
  t.equal((await refusal(t, fetchMedia(`${base}/missing.png`, local), 'http_status'))?.status, 404);
  await refusal(t, fetchMedia('http://127.0.0.1:1/a.png', { ...limits, allowedHosts: ['127.0.0.1:1'] }), 'network');
});
