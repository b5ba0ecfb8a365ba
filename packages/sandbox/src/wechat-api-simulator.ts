import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { CUSTOM_TEXT_LIMIT_BYTES, MEDIA_LIFETIME_MS, MEDIA_LIMITS, MENU_HEAD_LIMIT_BYTES, type MediaLimit, type MediaType, OPENID } from '@wxim/wechat';
import { listenAt } from './listen.js';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type FaultKind, FaultInjecting, type Faults } from './fault-plan.js';
import { parseFormData } from './wechat-api-simulator-multipart.js';
import { SimTokens } from './wechat-api-simulator-tokens.js';
import { type CustomerAction, type CustomerWindow, CustomerWindows } from './wechat-api-simulator-windows.js';
import { CUSTOMER_MEDIA_FILES, customerMediaBytes, customerMediaKind } from './customer-media-fixtures.js';

export type { CustomerAction, CustomerWindow } from './wechat-api-simulator-windows.js';

/** The WeChat API's faults: the same kinds as IM's (a busy answer is errcode -1, system error). */
export type { FaultKind as WechatFaultKind, Faults as WechatFaults } from './fault-plan.js';

export interface WechatApiSimulatorOptions {
  appId: string;
  secret: string;
  /** A token's life (WeChat's 7200 s by default). */
  tokenTtlSeconds?: number;
  /** How long a cgi-bin/token stays valid once the next is issued: WeChat's 5 minutes by default; 0 voids it at once. */
  tokenGraceMs?: number;
  /** Forced stable_token refreshes are taken at most this often (WeChat: 30 s); closer ones return the current token. */
  forceRefreshIntervalMs?: number;
  textLimitBytes?: number;
  mediaLimits?: Partial<Record<MediaType, MediaLimit>>;
  /** What a send to a customer who unfollowed gets: 45015 (WeChat's usual answer) or 43004. */
  unfollowedCode?: 45015 | 43004;
  /** false lets every send through whatever the customer did (label such a run). */
  enforceWindow?: boolean;
}

/** A message WeChat accepted for delivery. */
export interface DeliveredMessage {
  openid: string;
  msgtype: string;
  /** The message's own object: `{content}`, `{media_id}`, … */
  payload: Record<string, unknown>;
  /** Milliseconds since the epoch. */
  receivedAt: number;
}

export interface StoredMedia {
  type: MediaType;
  bytes: Buffer;
  filename: string;
  contentType: string;
  createdAt: number;
}

export interface WechatSimulatorStats {
  /** Calls per API (`message/custom/send`, `stable_token`, …). */
  calls: Record<string, number>;
  tokenFetches: { token: number; stable: number; forced: number };
  sent: number;
  faults: Record<FaultKind, number>;
  /** Answers with a non-zero errcode, per errcode. */
  errors: Record<string, number>;
  /** Downloads of customers' videos from the link media/get gives: begun, and still connected now. */
  videoDownloads: { started: number; open: number };
}

type Json = Record<string, unknown>;
type Answer = Json | StoredMedia;
type Query = Record<string, string | undefined>;

const err = (errcode: number, errmsg: string): Json => ({ errcode, errmsg });

/**
 * The WeChat Official Account API as far as the relay uses it: access tokens (both kinds, with
 * their lifetimes and invalidation), customer-service messages under WeChat's window and quota
 * rules, temporary media, the typing state; it records what it delivered and injects faults on
 * demand. Runs in-process (tests) or on its own port (sandbox mode), with `/sim/*` to drive and
 * inspect it.
 */
export class WechatApiSimulator extends FaultInjecting {
  readonly app: FastifyInstance;
  readonly sent: DeliveredMessage[] = [];
  /** Every custom/typing call, in order, with WeChat's answer (0: taken). */
  readonly typingCalls: { openid: string; command: string; at: number; errcode: number }[] = [];
  readonly media = new Map<string, StoredMedia>();
  readonly stats: WechatSimulatorStats = {
    calls: {},
    tokenFetches: { token: 0, stable: 0, forced: 0 },
    sent: 0,
    faults: this.plan.counts,
    errors: {},
    videoDownloads: { started: 0, open: 0 },
  };
  /** Customers' videos are downloaded a 256-byte piece every this many ms; 0: at once. */
  videoPaceMs = 0;
  private readonly tokens: SimTokens;
  private readonly windows: CustomerWindows;
  private readonly limits: Record<MediaType, MediaLimit>;
  private listeners: ((m: DeliveredMessage) => void)[] = [];

  constructor(readonly options: WechatApiSimulatorOptions) {
    super();
    this.tokens = new SimTokens({
      ttlMs: (options.tokenTtlSeconds ?? 7200) * 1000,
      graceMs: options.tokenGraceMs ?? 300_000,
      forceIntervalMs: options.forceRefreshIntervalMs ?? 30_000,
    });
    this.windows = new CustomerWindows(options.unfollowedCode ?? 45015);
    this.limits = { ...MEDIA_LIMITS, ...options.mediaLimits };
    this.app = Fastify({ logger: false });
    this.app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit: 32 * 1024 * 1024 }, (_req, body, done) => done(null, body));
    this.routes();
  }

  /** A customer's action the relay saw pushed: a message (48 h, 5 sends) or a follow, menu click or scan event (1 min, 3 sends). */
  customerActed(openid: string, kind: CustomerAction, atMs: number = Date.now()): void {
    this.windows.acted(openid, kind, atMs);
  }

  /** Ends the customer's window now, as if their last message were 48 hours old. */
  closeWindow(openid: string, atMs: number = Date.now()): void {
    this.windows.close(openid, atMs);
  }

  customerUnfollowed(openid: string): void {
    this.windows.unfollowed(openid);
  }

  /** Whether the customer follows the account: after an unfollow WeChat refuses every send until they act again. */
  follows(openid: string): boolean {
    return this.windows.follows(openid);
  }

  /** The customer's window as it stands: its deadline (ms) and the sends left. */
  windowOf(openid: string): CustomerWindow | undefined {
    return this.windows.window(openid);
  }

  /**
   * Voids every token behind the relay's back. With `stableStaysStale`, stable_token keeps handing
   * out its voided token in normal mode until a forced refresh (so a client must force one).
   */
  invalidateTokens(options: { stableStaysStale?: boolean } = {}): void {
    this.tokens.revokeAll(Date.now(), options.stableStaysStale ?? false);
  }

  /** Whether this Official Account issued the access token: WeChat tells accounts apart by it (see wechatApiApps). */
  issued(token: string): boolean {
    return this.tokens.hasIssued(token);
  }

  onSent(listener: (m: DeliveredMessage) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Whether the customer sees "typing…" now (see custom/typing). */
  isTyping(openid: string, atMs: number = Date.now()): boolean {
    return this.windows.isTyping(openid, atMs);
  }

  sentTo(openid: string): DeliveredMessage[] {
    return this.sent.filter((m) => m.openid === openid);
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return listenAt(this.app, port, host);
  }

  async close(): Promise<void> {
    await this.app.close();
  }

  private routes(): void {
    this.api('GET', 'token', (req) => this.cgiToken(req.query as Query));
    this.api('POST', 'stable_token', (req) => this.stableToken(req.body));
    this.api('POST', 'message/custom/send', (req) => this.authorized(req, () => this.send(req.body)));
    this.api('POST', 'message/custom/typing', (req) => this.authorized(req, () => this.typing(req.body)));
    this.api('POST', 'media/upload', (req) => this.authorized(req, () => this.upload(req)));
    this.api('GET', 'media/get', (req) => this.authorized(req, () => this.getMedia((req.query as Query)['media_id'], req.headers.host)));
    // Where a customer's video is downloaded from (the link media/get gives), as WeChat's CDN would.
    this.app.get<{ Params: { id: string } }>('/sim/video/:id', async (req, reply) => {
      if (customerMediaKind(req.params.id) !== 'video') return reply.code(404).send();
      const bytes = customerMediaBytes('video');
      const downloads = this.stats.videoDownloads;
      downloads.started++;
      downloads.open++;
      reply.raw.once('close', () => downloads.open--);
      reply.type(CUSTOMER_MEDIA_FILES.video.contentType).header('content-length', bytes.length);
      if (this.videoPaceMs <= 0) return reply.send(bytes);
      // A slow line: a piece every `videoPaceMs`, so a test can leave in the middle.
      return reply.send(Readable.from(pieces(bytes, 256, this.videoPaceMs)));
    });

    this.app.get('/sim/sent', async () => this.sent);
    this.app.get('/sim/stats', async () => this.stats);
    this.app.get<{ Querystring: { openid?: string } }>('/sim/typing', async (req, reply) => {
      const openid = req.query.openid;
      if (typeof openid !== 'string' || openid === '') return reply.code(400).send({ error: 'openid needed' });
      return { openid, typing: this.isTyping(openid), calls: this.typingCalls.filter((c) => c.openid === openid) };
    });
    this.app.put<{ Body: Faults }>('/sim/faults', async (req) => {
      this.faults = req.body;
      return this.faults;
    });
    this.app.post<{ Body: { openid: string; kind: CustomerAction; at?: number } }>('/sim/customer-acted', async (req, reply) => {
      const { openid, kind, at } = req.body ?? {};
      if (typeof openid !== 'string' || (kind !== 'message' && kind !== 'event'))
        return reply.code(400).send({ error: 'openid and kind (message | event) needed' });
      this.customerActed(openid, kind, typeof at === 'number' ? at : Date.now());
      return this.windowOf(openid);
    });
    this.app.post<{ Body: { openid: string } }>('/sim/customer-unfollowed', async (req, reply) => {
      if (typeof req.body?.openid !== 'string') return reply.code(400).send({ error: 'openid needed' });
      this.customerUnfollowed(req.body.openid);
      return { ok: true };
    });
    this.app.post<{ Body: { stableStaysStale?: boolean } | undefined }>('/sim/invalidate-tokens', async (req) => {
      this.invalidateTokens({ stableStaysStale: req.body?.stableStaysStale === true });
      return { ok: true };
    });
    this.app.get('/healthz', async () => ({ status: 'ok' }));
  }

  /** One API route with the shared part: counting, scripted and random faults, the answer. */
  private api(method: 'GET' | 'POST', api: string, handle: (req: FastifyRequest) => Answer): void {
    this.app.route({
      method,
      url: `/cgi-bin/${api}`,
      handler: async (req, reply) => {
        this.stats.calls[api] = (this.stats.calls[api] ?? 0) + 1;
        const met = this.plan.next(api);
        if (met !== undefined && 'code' in met) {
          if (met.ms !== undefined) await sleep(met.ms);
          return this.answer(reply, err(met.code, met.info));
        }
        const fault = met?.kind;
        if (fault === 'http500') return reply.code(500).send('Internal Server Error');
        if (fault === 'busy') return this.answer(reply, err(-1, 'system error'));
        const answer = handle(req);
        if (fault === 'lost') {
          // Done, but the answer never arrives: for a send, the message is delivered all the same.
          req.raw.socket.destroy();
          return reply.hijack();
        }
        if (fault === 'slow') await sleep(met!.ms);
        return this.answer(reply, answer);
      },
    });
  }

  private answer(reply: FastifyReply, answer: Answer) {
    if (isMedia(answer)) {
      return reply
        .header('content-type', answer.contentType)
        .header('content-disposition', `attachment; filename="${answer.filename.replace(/"/g, '%22')}"`)
        .send(answer.bytes);
    }
    const code = Number(answer['errcode'] ?? 0);
    if (code !== 0) this.stats.errors[code] = (this.stats.errors[code] ?? 0) + 1;
    return reply.send(answer);
  }

  private credentials(appid: unknown, secret: unknown, grantType: unknown): Json | undefined {
    if (typeof appid !== 'string' || appid === '') return err(41002, 'appid missing');
    if (typeof secret !== 'string' || secret === '') return err(41004, 'appsecret missing');
    if (grantType !== 'client_credential') return err(40002, 'invalid grant_type');
    if (appid !== this.options.appId) return err(40013, 'invalid appid');
    if (secret !== this.options.secret) return err(40125, 'invalid appsecret');
    return undefined;
  }

  private cgiToken(q: Query): Answer {
    const refused = this.credentials(q['appid'], q['secret'], q['grant_type']);
    if (refused !== undefined) return refused;
    this.stats.tokenFetches.token++;
    return tokenAnswer(this.tokens.cgiToken(Date.now()));
  }

  private stableToken(body: unknown): Answer {
    const b = (body ?? {}) as Json;
    const refused = this.credentials(b['appid'], b['secret'], b['grant_type']);
    if (refused !== undefined) return refused;
    const force = b['force_refresh'] === true;
    if (force) this.stats.tokenFetches.forced++;
    else this.stats.tokenFetches.stable++;
    return tokenAnswer(this.tokens.stableToken(force, Date.now()));
  }

  private authorized(req: FastifyRequest, handle: () => Answer): Answer {
    return this.tokens.check((req.query as Query)['access_token'], Date.now()) ?? handle();
  }

  private send(body: unknown): Answer {
    if (typeof body !== 'object' || body === null) return err(44002, 'empty post data');
    const b = body as Json;
    const openid = b['touser'];
    if (typeof openid !== 'string' || !OPENID.test(openid)) return err(40003, 'invalid openid');
    const msgtype = String(b['msgtype']);
    const payload = b[msgtype];
    if (typeof payload !== 'object' || payload === null) return err(40008, 'invalid message type');
    const content = this.checkContent(msgtype, payload as Json);
    if (content !== undefined) return content;
    const now = Date.now();
    if (this.options.enforceWindow !== false) {
      const refused = this.windows.send(openid, now);
      if (refused !== undefined) return refused;
    }
    const message: DeliveredMessage = { openid, msgtype, payload: payload as Json, receivedAt: now };
    this.sent.push(message);
    this.stats.sent++;
    for (const l of this.listeners) l(message);
    return err(0, 'ok');
  }

  private checkContent(msgtype: string, payload: Json): Json | undefined {
    switch (msgtype) {
      case 'text': {
        const content = payload['content'];
        if (typeof content !== 'string' || content === '') return err(44004, 'empty content');
        if (Buffer.byteLength(content) > (this.options.textLimitBytes ?? CUSTOM_TEXT_LIMIT_BYTES)) return err(45002, 'content size out of limit');
        return undefined;
      }
      case 'image':
      case 'voice':
        return this.mediaOf(payload['media_id'], msgtype) === undefined ? err(40007, 'invalid media_id') : undefined;
      case 'video': {
        if (this.mediaOf(payload['media_id'], 'video') === undefined) return err(40007, 'invalid media_id');
        const thumb = payload['thumb_media_id'];
        return thumb !== undefined && this.mediaOf(thumb, 'thumb') === undefined && this.mediaOf(thumb, 'image') === undefined
          ? err(40007, 'invalid media_id')
          : undefined;
      }
      case 'msgmenu':
        return checkMenu(payload);
      default:
        return err(40008, 'invalid message type');
    }
  }

  /** A media_id still held (3 days from its upload), of the given type. */
  private mediaOf(mediaId: unknown, type?: MediaType): StoredMedia | undefined {
    const media = typeof mediaId === 'string' ? this.media.get(mediaId) : undefined;
    if (media === undefined || Date.now() - media.createdAt >= MEDIA_LIFETIME_MS) return undefined;
    return type === undefined || media.type === type ? media : undefined;
  }

  private typing(body: unknown): Answer {
    const b = (body ?? {}) as Json;
    const openid = b['touser'];
    if (typeof openid !== 'string' || !OPENID.test(openid)) return err(40003, 'invalid openid');
    const now = Date.now();
    const answer = this.windows.typing(openid, String(b['command']), now) ?? err(0, 'ok');
    this.typingCalls.push({ openid, command: String(b['command']), at: now, errcode: Number(answer['errcode']) });
    return answer;
  }

  private upload(req: FastifyRequest): Answer {
    const type = (req.query as Query)['type'] as MediaType | undefined;
    const limit = type === undefined ? undefined : this.limits[type];
    if (type === undefined || limit === undefined) return err(40004, 'invalid media type');
    const parts = Buffer.isBuffer(req.body) ? parseFormData(req.body, req.headers['content-type'] ?? '') : undefined;
    const file = parts?.find((p) => p.name === 'media' && p.filename !== undefined);
    if (file === undefined) return err(41005, 'media data missing');
    const filename = file.filename!;
    const extension = filename.includes('.') ? filename.slice(filename.lastIndexOf('.') + 1).toLowerCase() : '';
    if (!limit.formats.includes(extension)) return err(40005, 'invalid file type');
    if (file.data.length === 0) return err(40006, 'invalid media size');
    if (file.data.length > limit.maxBytes) return err(limit.tooLargeCode, `invalid ${type} size`);
    const mediaId = randomBytes(48).toString('base64url');
    const createdAt = Date.now();
    this.media.set(mediaId, { type, bytes: Buffer.from(file.data), filename, contentType: file.contentType ?? 'application/octet-stream', createdAt });
    return { type, media_id: mediaId, created_at: Math.floor(createdAt / 1000) };
  }

  private getMedia(mediaId: unknown, host: string | undefined): Answer {
    // What the simulated customers sent: the fixtures, a video as a link to this simulator
    // (by the Host the caller used, which the gateway reaches too).
    const kind = typeof mediaId === 'string' ? customerMediaKind(mediaId) : undefined;
    if (kind === 'video') return { video_url: `http://${host ?? '127.0.0.1'}/sim/video/${String(mediaId)}` };
    if (kind !== undefined) {
      const { file, contentType } = CUSTOMER_MEDIA_FILES[kind];
      return { type: kind, bytes: customerMediaBytes(kind), filename: file, contentType, createdAt: Date.now() };
    }
    const media = this.mediaOf(mediaId);
    if (media === undefined) return err(40007, 'invalid media_id');
    // A video comes as a link to it, the other types as the file itself.
    return media.type === 'video' ? { video_url: `http://wechat-simulator.invalid/media/${String(mediaId)}` } : media;
  }
}

async function* pieces(bytes: Buffer, size: number, everyMs: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) {
    if (at > 0) await sleep(everyMs);
    yield bytes.subarray(at, at + size);
  }
}

/** A menu message: a head text within its limit and options each with an id and a text. */
function checkMenu(payload: Json): Json | undefined {
  const head = payload['head_content'];
  const list = payload['list'];
  const tail = payload['tail_content'];
  if (typeof head !== 'string' || (tail !== undefined && typeof tail !== 'string')) return err(40035, 'invalid args');
  if (Buffer.byteLength(head) > MENU_HEAD_LIMIT_BYTES || Buffer.byteLength(tail ?? '') > MENU_HEAD_LIMIT_BYTES) return err(45002, 'content size out of limit');
  const options = Array.isArray(list) ? (list as unknown[]) : [];
  const valid = (o: unknown) => {
    const { id, content } = (o ?? {}) as Json;
    return typeof id === 'string' && id !== '' && typeof content === 'string' && content !== '';
  };
  return options.length === 0 || !options.every(valid) ? err(40035, 'invalid args') : undefined;
}

function isMedia(answer: Answer): answer is StoredMedia {
  return Buffer.isBuffer((answer as Partial<StoredMedia>).bytes);
}

function tokenAnswer({ token, expiresIn }: { token: string; expiresIn: number }): Json {
  return { access_token: token, expires_in: expiresIn };
}
