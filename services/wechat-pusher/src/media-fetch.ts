import { type LookupAddress, promises as dns } from 'node:dns';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { type LookupFunction, isIP } from 'node:net';

/**
 * Downloads a file an agent's reply links to (IM's storage, or anywhere an agent tool put it), so
 * that it can be uploaded to WeChat — without letting a link reach the relay's own network: every
 * host, redirects included, must resolve to public addresses only (unless an exact `host:port`
 * entry of MEDIA_ALLOWED_HOSTS names it), and the connection goes to the address that was checked.
 */

export type MediaErrorReason = 'not_allowed' | 'too_large' | 'timeout' | 'bad_type' | 'http_status' | 'network';

/** Why a file could not be fetched, in plain words; a URL in the message never carries its query. */
export class MediaError extends Error {
  override readonly name = 'MediaError';
  /** The HTTP status, for reason http_status. */
  readonly status: number | undefined;

  constructor(
    readonly reason: MediaErrorReason,
    message: string,
    options: { cause?: unknown; status?: number } = {},
  ) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.status = options.status;
  }
}

export interface FetchMediaOptions {
  maxBytes: number;
  /** For the whole fetch: look-ups, redirects and the body. */
  timeoutMs: number;
  /**
   * MEDIA_ALLOWED_HOSTS: `host`, `host:port`, `[v6]:port` or `*.suffix` (its subdomains). When the
   * list is not empty, hosts not on it are refused. Only an exact `host:port` entry lets its host
   * resolve to any address (e.g. a storage server on the private network); the others still need
   * public addresses.
   */
  allowedHosts: string[];
  /** Media types taken, e.g. `image/jpeg` or `image/*`; any when absent or empty. */
  acceptTypes?: string[];
  /** The resolver (node:dns lookup, all addresses, by default); tests give their own. */
  resolve?: (hostname: string) => Promise<LookupAddress[]>;
}

export interface FetchedMedia {
  bytes: Buffer;
  /** The media type without parameters, lower case, e.g. `image/jpeg`. */
  contentType: string;
  /** A safe file name with an extension: WeChat's media/upload judges the type by the name. */
  filename: string;
}

const MAX_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** A URL fit for a message or a log: scheme, host and path, never the query (signatures) or credentials. */
function shown(url: URL): string {
  const path = url.pathname.length > 80 ? `${url.pathname.slice(0, 80)}…` : url.pathname;
  return `${url.protocol}//${url.host}${path}`;
}

// --- addresses -------------------------------------------------------------------------------

export type AddressKind = 'public' | 'loopback' | 'private' | 'link-local' | 'unspecified' | 'multicast' | 'reserved';

function parseV4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return undefined;
  const bytes = parts.map(Number);
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

/** The eight 16-bit groups of an IPv6 address (a dotted IPv4 tail and a zone allowed). */
function parseV6(text: string): number[] | undefined {
  let s = text.replace(/^\[|\]$/g, '').split('%')[0] ?? '';
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    const v4 = parseV4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = v4;
    s = `${s.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  return groups.map((g) => parseInt(g, 16));
}

function v4Kind([a = 0, b = 0, c = 0]: number[]): AddressKind {
  if (a === 0) return 'unspecified'; // 0.0.0.0/8, "this network"
  if (a === 127) return 'loopback';
  if (a === 10 || (a === 172 && (b & 0xf0) === 16) || (a === 192 && b === 168)) return 'private';
  if (a === 100 && (b & 0xc0) === 64) return 'private'; // 100.64/10, carrier-grade NAT
  if (a === 169 && b === 254) return 'link-local';
  if (a >= 224 && a <= 239) return 'multicast';
  if (a >= 240) return 'reserved'; // broadcast included
  // IETF protocol assignments, documentation and benchmarking ranges: never a real file server.
  if ((a === 192 && b === 0 && (c === 0 || c === 2)) || (a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113)) return 'reserved';
  if (a === 198 && (b & 0xfe) === 18) return 'reserved';
  return 'public';
}

function embeddedV4(high: number, low: number): number[] {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff];
}

function v6Kind(g: number[]): AddressKind {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroTo(8)) return 'unspecified';
  if (zeroTo(7) && g7 === 1) return 'loopback';
  // IPv4 inside IPv6 reaches that IPv4 address: mapped (::ffff:a.b.c.d), translated (::ffff:0:a.b.c.d),
  // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) are judged by the address they carry.
  if (zeroTo(5) && g5 === 0xffff) return v4Kind(embeddedV4(g6, g7));
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return v4Kind(embeddedV4(g6, g7));
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return v4Kind(embeddedV4(g6, g7));
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return 'private'; // 64:ff9b:1::/48, local-use NAT64
  if (g0 === 0x2002) return v4Kind(embeddedV4(g1, g2));
  if ((g0 & 0xfe00) === 0xfc00) return 'private'; // fc00::/7, unique local
  if ((g0 & 0xffc0) === 0xfe80) return 'link-local';
  if ((g0 & 0xffc0) === 0xfec0) return 'private'; // fec0::/10, the old site-local
  if ((g0 & 0xff00) === 0xff00) return 'multicast';
  if (g0 === 0x2001 && (g1 === 0 || g1 === 0xdb8)) return 'reserved'; // Teredo; documentation
  // Global unicast is 2000::/3; everything else (IPv4-compatible ::a.b.c.d, discard 100::/64, …) is not a server.
  return (g0 & 0xe000) === 0x2000 ? 'public' : 'reserved';
}

/** What an IP address is, for deciding whether a fetch may connect to it. Anything unparseable is 'reserved'. */
export function addressKind(ip: string): AddressKind {
  const bare = ip.replace(/^\[|\]$/g, '');
  if (isIP(bare) === 4) {
    const v4 = parseV4(bare);
    return v4 === undefined ? 'reserved' : v4Kind(v4);
  }
  const v6 = isIP(bare.split('%')[0] ?? '') === 6 ? parseV6(bare) : undefined;
  return v6 === undefined ? 'reserved' : v6Kind(v6);
}

// --- hosts -----------------------------------------------------------------------------------

/** A host as compared: lower case, IPv6 without brackets and in one spelling. */
function canonicalHost(host: string): string {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(bare) !== 6) return bare;
  return new URL(`http://[${bare}]/`).hostname.replace(/^\[|\]$/g, '');
}

function defaultPort(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : '80');
}

/** A MEDIA_ALLOWED_HOSTS entry: its host (or `*.suffix`), and its port when it names one. */
interface AllowedEntry {
  host: string;
  port: string | undefined;
}

function entryOf(raw: string): AllowedEntry | undefined {
  const entry = raw.trim().toLowerCase();
  if (entry === '') return undefined;
  // `[v6]:port`, `host:port`; a bare IPv6 address has several colons and no port.
  const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry) ?? (entry.split(':').length === 2 ? /^([^:]+):(\d+)$/.exec(entry) : null);
  return { host: match?.[1] ?? entry, port: match?.[2] };
}

/** The entries of `allowedHosts` that name `url`'s host (and port). */
function entriesFor(allowedHosts: string[], url: URL): AllowedEntry[] {
  const host = canonicalHost(url.hostname);
  const port = defaultPort(url);
  return allowedHosts.flatMap((raw) => {
    const entry = entryOf(raw);
    if (entry === undefined || (entry.port !== undefined && entry.port !== port)) return [];
    const named = entry.host.startsWith('*.') ? host.endsWith(entry.host.slice(1)) && host.length > entry.host.length - 1 : canonicalHost(entry.host) === host;
    return named ? [entry] : [];
  });
}

/** Whether `url`'s host (and port) is on the MEDIA_ALLOWED_HOSTS list. */
export function isAllowedHost(allowedHosts: string[], url: URL): boolean {
  return entriesFor(allowedHosts, url).length > 0;
}

/**
 * Whether `url` may lead to a loopback, private or otherwise non-public address: only when an
 * exact `host:port` entry names it. A wildcard hands the choice of address to whoever runs any
 * subdomain's DNS, and a host without a port opens every port of it (Redis, an admin page), so
 * those only narrow which hosts are fetched.
 */
export function mayBeInternal(allowedHosts: string[], url: URL): boolean {
  return entriesFor(allowedHosts, url).some((entry) => entry.port !== undefined && !entry.host.startsWith('*.'));
}

// --- fetching --------------------------------------------------------------------------------

async function systemResolve(hostname: string): Promise<LookupAddress[]> {
  return dns.lookup(hostname, { all: true, verbatim: true });
}

/** Rejects with the signal's abort: a DNS look-up cannot be cancelled, but it need not be waited for. */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The address to connect to for `url`, once its scheme, host and every address it resolves to pass. */
async function checkedAddress(url: URL, options: FetchMediaOptions, signal: AbortSignal): Promise<LookupAddress> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MediaError('not_allowed', `only http and https links are fetched, not ${url.protocol}`);
  }
  if (!isAllowedHost(options.allowedHosts, url) && options.allowedHosts.some((h) => h.trim() !== '')) {
    throw new MediaError('not_allowed', `${shown(url)}: ${url.host} is not in MEDIA_ALLOWED_HOSTS`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: LookupAddress[];
  if (isIP(host) !== 0) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await raceAbort((options.resolve ?? systemResolve)(host), signal);
    } catch (err) {
      if (signal.aborted) throw err;
      throw new MediaError('network', `${shown(url)}: the host name did not resolve`, { cause: err });
    }
  }
  const first = addresses[0];
  if (first === undefined) throw new MediaError('network', `${shown(url)}: the host name has no address`);
  // Every address, not only the first: a name with one public and one private address is refused.
  // The message names neither the address nor its kind: it reaches the agent, the logs and the
  // failed job, and would otherwise map the relay's network for whoever sends links.
  if (!mayBeInternal(options.allowedHosts, url) && addresses.some(({ address }) => addressKind(address) !== 'public')) {
    throw new MediaError('not_allowed', `${shown(url)}: not a public address`);
  }
  return first;
}

/** A lookup that answers with the address already checked, so the connection cannot be steered elsewhere (DNS rebinding). */
function pinnedLookup(target: LookupAddress): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [target]);
    else callback(null, target.address, target.family);
  };
}

function request(url: URL, target: LookupAddress, options: FetchMediaOptions, signal: AbortSignal): Promise<IncomingMessage> {
  const accept = options.acceptTypes !== undefined && options.acceptTypes.length > 0 ? options.acceptTypes.join(', ') : '*/*';
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request({
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: defaultPort(url),
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      // Credentials in a link (user:password@) are not sent: media links carry their signature in the query.
      headers: { accept, 'user-agent': 'wxim-relay media fetch' },
      lookup: pinnedLookup(target),
      // A connection of its own: a pooled socket may be pinned to another host's address.
      agent: false,
      signal,
    });
    req.once('response', resolve);
    req.once('error', reject);
    req.end();
  });
}

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function accepts(acceptTypes: string[] | undefined, type: string): boolean {
  if (acceptTypes === undefined || acceptTypes.length === 0) return true;
  return acceptTypes.some((raw) => {
    const accepted = raw.trim().toLowerCase();
    return accepted === type || (accepted.endsWith('/*') && type.startsWith(accepted.slice(0, -1)));
  });
}

const EXTENSIONS: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/gif': 'gif',
  'image/bmp': 'bmp',
  'audio/amr': 'amr',
  'audio/mpeg': 'mp3',
  'audio/mp3': 'mp3',
  'video/mp4': 'mp4',
};

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The server's name for the file (Content-Disposition), else the URL's last segment; with an extension its type implies. */
function filenameOf(disposition: string | undefined, url: URL, contentType: string): string {
  const extended = /filename\*\s*=\s*[^']*'[^']*'([^;]+)/i.exec(disposition ?? '')?.[1];
  const plain = /filename\s*=\s*(?:"([^"]*)"|([^;]+))/i.exec(disposition ?? '');
  const raw = extended !== undefined ? decoded(extended) : plain !== null ? (plain[1] ?? plain[2] ?? '') : decoded(url.pathname.split('/').pop() ?? '');
  // Only the last path segment, without control characters or quotes, and not too long.
  let name = (raw.split(/[/\\]/).pop() ?? '')
    .replace(/[\p{Cc}"]/gu, '_')
    .trim()
    .slice(-100);
  if (name === '' || name.startsWith('.')) name = `media${name}`;
  const ext = EXTENSIONS[contentType];
  return ext !== undefined && !/\.[A-Za-z0-9]{2,5}$/.test(name) ? `${name}.${ext}` : name;
}

async function readBody(response: IncomingMessage, url: URL, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      response.destroy();
      throw new MediaError('too_large', `${shown(url)} is too large: more than ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

async function fetchWithin(start: URL, options: FetchMediaOptions, signal: AbortSignal): Promise<FetchedMedia> {
  let url = start;
  for (let redirects = 0; ; redirects++) {
    const target = await checkedAddress(url, options, signal);
    const response = await request(url, target, options, signal);
    const status = response.statusCode ?? 0;
    if (REDIRECT_STATUSES.has(status)) {
      response.destroy();
      const location = response.headers.location;
      if (location === undefined) throw new MediaError('http_status', `${shown(url)} answered ${status} without a location`, { status });
      if (redirects >= MAX_REDIRECTS) throw new MediaError('http_status', `${shown(url)} redirects more than ${MAX_REDIRECTS} times`, { status });
      try {
        url = new URL(location, url);
      } catch (err) {
        throw new MediaError('http_status', `${shown(url)} redirects to an invalid location`, { status, cause: err });
      }
      continue;
    }
    if (status < 200 || status > 299) {
      response.destroy();
      throw new MediaError('http_status', `${shown(url)} answered HTTP ${status}`, { status });
    }
    const contentType = mediaType(response.headers['content-type']);
    if (!accepts(options.acceptTypes, contentType)) {
      response.destroy();
      throw new MediaError('bad_type', `${shown(url)} is ${contentType || 'of no stated type'}, not ${options.acceptTypes?.join(' or ')}`);
    }
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > options.maxBytes) {
      response.destroy();
      throw new MediaError('too_large', `${shown(url)} is too large: ${declared} bytes, more than ${options.maxBytes}`);
    }
    const bytes = await readBody(response, url, options.maxBytes);
    return { bytes, contentType, filename: filenameOf(response.headers['content-disposition'], url, contentType) };
  }
}

/**
 * Downloads `url` under the limits given: http(s) only, public addresses only (unless an exact
 * `host:port` entry of MEDIA_ALLOWED_HOSTS names it), at most 3 redirects each checked again, at most `maxBytes`, within `timeoutMs` in all.
 * Throws MediaError.
 */
export async function fetchMedia(url: string, options: FetchMediaOptions): Promise<FetchedMedia> {
  let start: URL;
  try {
    start = new URL(url);
  } catch (err) {
    throw new MediaError('not_allowed', 'not a valid link', { cause: err });
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  try {
    return await fetchWithin(start, options, controller.signal);
  } catch (err) {
    if (err instanceof MediaError) throw err;
    if (controller.signal.aborted) throw new MediaError('timeout', `${shown(start)} took longer than ${options.timeoutMs} ms`, { cause: err });
    const code = (err as { code?: unknown }).code;
    throw new MediaError('network', `${shown(start)} could not be fetched${typeof code === 'string' ? ` (${code})` : ''}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
