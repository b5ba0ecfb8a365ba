import { readFileSync } from 'node:fs';
import { onlyKnownHosts } from '@wxim/host';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ImSimulator } from '../im-simulator.js';
import type { WechatApiSimulator } from '../wechat-api-simulator.js';
import { type WechatPlatform, fakeOpenId } from '../wechat-platform.js';
import { agentConversation, arrivals, customerPane } from './chat-view.js';
import type { Desk, DeskView } from '@wxim/state';
import { CUSTOMER_ACTIONS, type CustomerAction, CustomerActs } from './customer-acts.js';
import { PHOTO_NAME, photoName, uniqueId } from './photo-names.js';
import { stripesPng } from './png.js';

/** One Official Account the page plays: its customers' side and its IM app's agents. */
export interface SandboxPageAccount {
  /** Its account id, as the relay knows it (`default`, `second`). */
  id: string;
  /** Its IM app. */
  im: ImSimulator;
  /** Its Official Account's API. */
  wechatApi: WechatApiSimulator;
  /** Signs and posts its customers' pushes to the gateway, as WeChat does (the page tells `wechatApi` itself). */
  wechat: WechatPlatform;
  agents: readonly string[];
  /** Its service desk as the relay keeps it (agents' states and loads, customers waiting); without it the page shows no desk. */
  desk?: DeskView;
}

export interface SandboxPageOptions {
  /** The accounts the page switches between; the first is the one a request that names none is about. */
  accounts: readonly SandboxPageAccount[];
  /** The page's own origin as the relay's services reach it (SANDBOX_HOST): photos are fetched from here. */
  selfUrl: string;
  dashboardPort: number;
  /** Host names (or addresses) the page answers to; any other Host header is refused (DNS rebinding). */
  hosts: readonly string[];
}

/** An account as the page is asked about it, with the customers it played. */
interface PlayedAccount extends SandboxPageAccount {
  customers: CustomerActs;
}

const OPENID = /^[A-Za-z0-9_-]{28}$/;
const ASSETS = new URL('../../public/', import.meta.url);
/** What the page's "IM fails" control offers: the share of IM calls answered with a fault. */
const FAILURE_PERCENTS = [0, 25, 50, 100];

/**
 * The sandbox page (SANDBOX_PORT): a customer in a WeChat-like chat and an agent in an IM-like
 * chat, both through the real gateway, queues, workers and callback. The customer's acts are
 * signed pushes to the gateway; the agent's replies are IM client sends that IM calls im-callback
 * about; what each side sees is read back from the two simulators. Every `/api/` route is about
 * one account, `?account=<id>` (the first account's without it): its customers, its IM app's
 * agents, its desk.
 */
export class SandboxPage {
  readonly app: FastifyInstance;
  private readonly accounts: Map<string, PlayedAccount>;

  constructor(private readonly options: SandboxPageOptions) {
    this.accounts = new Map(options.accounts.map((a) => [a.id, { ...a, customers: new CustomerActs(a.wechat, a.wechatApi, options.selfUrl) }]));
    this.app = Fastify({ logger: false, bodyLimit: 16 * 1024 });
    onlyKnownHosts(this.app, options.hosts);
    this.assets();
    this.routes();
  }

  async listen(port: number, host: string): Promise<void> {
    await this.app.listen({ port, host });
  }

  async close(): Promise<void> {
    await this.app.close();
  }

  private assets(): void {
    const files: Record<string, string> = { '/': 'index.html', '/app.js': 'app.js', '/style.css': 'style.css' };
    const types: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
    for (const [path, file] of Object.entries(files)) {
      const body = readFileSync(new URL(file, ASSETS));
      const type = types[file.split('.').pop()!]!;
      this.app.get(path, (_req, reply) => reply.type(type).header('cache-control', 'no-store').send(body));
    }
  }

  /** The account a request names (`?account=`), the first without one; undefined for one the page does not play. */
  private accountOf(req: FastifyRequest): PlayedAccount | undefined {
    const id = (req.query as { account?: unknown }).account;
    return id === undefined ? this.accounts.get(this.options.accounts[0]!.id) : typeof id === 'string' ? this.accounts.get(id) : undefined;
  }

  /** An account's desk for the page, or why it cannot be shown: a Redis away must not stop the chats from showing. */
  private async readDesk(account: PlayedAccount): Promise<Desk | { unavailable: string }> {
    if (account.desk === undefined) return { unavailable: "this page is not connected to the relay's Redis" };
    try {
      return await account.desk.read();
    } catch (err) {
      return { unavailable: `the relay's Redis did not answer (${err instanceof Error ? err.message : String(err)})` };
    }
  }

  private routes(): void {
    const refuse = (reply: FastifyReply, code: number, error: string) => reply.code(code).send({ error });
    /** The account of a request to an `/api/` route: the page answers for no other. */
    const account = (req: FastifyRequest) => this.accountOf(req)!;
    this.app.addHook('onRequest', async (req, reply) => {
      if (req.url.startsWith('/api/') && this.accountOf(req) === undefined)
        return refuse(reply, 404, `account: one of ${[...this.accounts.keys()].join(', ')}`);
    });

    this.app.get('/api/setup', async () => ({
      accounts: [...this.accounts.values()].map((a) => ({
        id: a.id,
        agents: a.agents,
        appId: a.wechatApi.options.appId,
        sdkAppId: a.im.options.sdkAppId,
        // The dashboard's board of the account: `/` for the first, `/accounts/<id>/` for another.
        dashboardPath: a.id === this.options.accounts[0]!.id ? '/' : `/accounts/${a.id}/`,
      })),
      dashboardPort: this.options.dashboardPort,
      failurePercents: FAILURE_PERCENTS,
    }));
    this.app.post('/api/customers', async () => ({ openid: fakeOpenId() }));

    this.app.get<{ Querystring: { openid?: string; agent?: string } }>('/api/view', async (req, reply) => {
      const played = account(req);
      const { im, wechatApi, agents, customers } = played;
      const { openid, agent } = req.query;
      if (typeof openid !== 'string' || !OPENID.test(openid)) return refuse(reply, 400, 'openid: a 28-character openid');
      if (typeof agent !== 'string' || !agents.includes(agent)) return refuse(reply, 400, `agent: one of ${agents.join(', ')}`);
      const window = wechatApi.windowOf(openid);
      const now = Date.now();
      return {
        customer: customerPane(customers.acts, wechatApi.sent, openid, arrivals(im.messages), (id) => `/api/wechat-media/${encodeURIComponent(id)}`),
        agent: agentConversation(im.messages, agent, openid),
        window: !wechatApi.follows(openid)
          ? { open: false, unfollowed: true }
          : window === undefined || window.deadline <= now
            ? { open: false }
            : { open: true, remaining: window.remaining, deadline: window.deadline },
        // What WeChat shows the customer while the agent types (custom/typing).
        typing: wechatApi.isTyping(openid),
        imFailPercent: Math.round(im.faults.rate * 100),
        // Calls IM answered with a fault so far: each is retried by the relay.
        imFailures: Object.values(im.stats.faults).reduce((a, b) => a + b, 0),
        desk: await this.readDesk(played),
      };
    });

    this.app.put<{ Body: { agent?: unknown; loggedIn?: unknown } | undefined }>('/api/agent/login', async (req, reply) => {
      const { im, agents } = account(req);
      const { agent, loggedIn } = req.body ?? {};
      if (typeof agent !== 'string' || !agents.includes(agent)) return refuse(reply, 400, `agent: one of ${agents.join(', ')}`);
      if (typeof loggedIn !== 'boolean') return refuse(reply, 400, 'loggedIn: true or false');
      // As the agent's IM client does: IM tells im-callback (State.StateChange), which records it for the desk.
      const delivered = await (loggedIn ? im.agentLogin(agent) : im.agentLogout(agent));
      if (!delivered) return refuse(reply, 502, `im-callback did not take ${agent}'s ${loggedIn ? 'login' : 'logout'}: the desk still has their earlier state`);
      return { agent, loggedIn };
    });

    this.app.post<{ Params: { action: string }; Body: { openid?: unknown; text?: unknown } | undefined }>('/api/customer/:action', async (req, reply) => {
      const action = req.params.action as CustomerAction;
      const { openid, text } = req.body ?? {};
      if (!CUSTOMER_ACTIONS.includes(action)) return refuse(reply, 404, `no such customer action; one of ${CUSTOMER_ACTIONS.join(', ')}`);
      if (typeof openid !== 'string' || !OPENID.test(openid)) return refuse(reply, 400, 'openid: a 28-character openid');
      if (action === 'text' && (typeof text !== 'string' || text.trim() === '' || Buffer.byteLength(text) > 2048))
        return refuse(reply, 400, 'text: 1 to 2048 bytes of text');
      return { status: await account(req).customers.act(openid, action, typeof text === 'string' ? text : '') };
    });

    this.app.post<{ Body: { agent?: unknown; openid?: unknown; text?: unknown; photo?: unknown } | undefined }>('/api/agent/reply', async (req, reply) => {
      const { im, agents } = account(req);
      const { agent, openid, text, photo } = req.body ?? {};
      if (typeof agent !== 'string' || !agents.includes(agent)) return refuse(reply, 400, `agent: one of ${agents.join(', ')}`);
      if (typeof openid !== 'string' || !OPENID.test(openid)) return refuse(reply, 400, 'openid: a 28-character openid');
      if (photo !== true && (typeof text !== 'string' || text.trim() === '' || text.length > 4096))
        return refuse(reply, 400, 'text: 1 to 4096 characters, or photo: true');
      const { customerAccount } = agentConversation(im.messages, agent, openid);
      if (customerAccount === undefined) return refuse(reply, 409, 'this customer has not written yet: there is no conversation to answer in');
      const url = `${this.options.selfUrl}/media/${photoName('agent')}`;
      const body =
        photo === true
          ? [
              {
                MsgType: 'TIMImageElem',
                MsgContent: {
                  UUID: `sandbox-${uniqueId()}`,
                  ImageFormat: 3,
                  ImageInfoArray: [1, 2, 3].map((Type) => ({ Type, Size: 0, Width: 96, Height: 96, URL: url })),
                },
              },
            ]
          : [{ MsgType: 'TIMTextElem', MsgContent: { Text: text as string } }];
      try {
        const sent = await im.agentSend(agent, customerAccount, body);
        return { msgKey: sent.msgKey, delivered: sent.delivered };
      } catch (err) {
        // IM refuses, e.g. a customer whose account was deleted when they unfollowed.
        return refuse(reply, 409, err instanceof Error ? err.message : String(err));
      }
    });

    /** The agent and the customer's IM account an agent's action names (in the account's IM app), or why it is refused. */
    const agentSide = (
      { im, agents }: PlayedAccount,
      body: { agent?: unknown; openid?: unknown } | undefined,
    ): { im: ImSimulator; agent: string; customerAccount: string } | { refused: number; error: string } => {
      const { agent, openid } = body ?? {};
      if (typeof agent !== 'string' || !agents.includes(agent)) return { refused: 400, error: `agent: one of ${agents.join(', ')}` };
      if (typeof openid !== 'string' || !OPENID.test(openid)) return { refused: 400, error: 'openid: a 28-character openid' };
      const { customerAccount } = agentConversation(im.messages, agent, openid);
      if (customerAccount === undefined) return { refused: 409, error: 'this customer has not written yet: there is no conversation to act in' };
      return { im, agent, customerAccount };
    };

    /** The agent's IM client says the agent is typing (or stopped), as TUIKit does: an online-only message IM reports to im-callback. */
    this.app.post<{ Body: { agent?: unknown; openid?: unknown; typing?: unknown } | undefined }>('/api/agent/typing', async (req, reply) => {
      const { typing } = req.body ?? {};
      if (typeof typing !== 'boolean') return refuse(reply, 400, 'typing: true or false');
      const side = agentSide(account(req), req.body);
      if ('refused' in side) return refuse(reply, side.refused, side.error);
      const sent = await side.im.agentTyping(side.agent, side.customerAccount, typing);
      return { delivered: sent.delivered };
    });

    /** The agent recalls one of their messages in IM: IM tells im-callback (C2C.CallbackAfterMsgWithDraw). */
    this.app.post<{ Body: { agent?: unknown; openid?: unknown; msgKey?: unknown } | undefined }>('/api/agent/recall', async (req, reply) => {
      const { msgKey } = req.body ?? {};
      if (typeof msgKey !== 'string') return refuse(reply, 400, 'msgKey: the message to recall');
      const side = agentSide(account(req), req.body);
      if ('refused' in side) return refuse(reply, side.refused, side.error);
      try {
        const delivered = await side.im.agentRecall(side.agent, side.customerAccount, msgKey);
        if (!delivered) return refuse(reply, 502, 'im-callback did not take the recall');
        return { recalled: msgKey };
      } catch (err) {
        return refuse(reply, 404, err instanceof Error ? err.message : String(err));
      }
    });

    this.app.put<{ Body: { openid?: unknown; closed?: unknown } | undefined }>('/api/window', async (req, reply) => {
      const { wechatApi } = account(req);
      const { openid, closed } = req.body ?? {};
      if (typeof openid !== 'string' || !OPENID.test(openid) || typeof closed !== 'boolean') return refuse(reply, 400, 'openid and closed (true or false)');
      // Closing ends it now; opening again is what the customer writing does.
      if (closed) wechatApi.closeWindow(openid);
      else wechatApi.customerActed(openid, 'message');
      return { closed };
    });

    this.app.put<{ Body: { percent?: unknown } | undefined }>('/api/im-failures', async (req, reply) => {
      const percent = req.body?.percent;
      if (typeof percent !== 'number' || !FAILURE_PERCENTS.includes(percent)) return refuse(reply, 400, `percent: one of ${FAILURE_PERCENTS.join(', ')}`);
      // Faults IM really answers with, which the relay retries: busy (90994) and HTTP 500. Only this account's IM app fails.
      account(req).im.faults = { rate: percent / 100, kinds: ['busy', 'http500'] };
      return { percent };
    });

    this.app.get<{ Params: { name: string } }>('/media/:name', async (req, reply) => {
      if (!PHOTO_NAME.test(req.params.name)) return refuse(reply, 404, 'no such photo');
      return reply.type('image/png').header('cache-control', 'public, max-age=86400').send(stripesPng(req.params.name));
    });
    this.app.get<{ Params: { id: string } }>('/api/wechat-media/:id', async (req, reply) => {
      // A media_id is random and long: whichever account's API holds it.
      const media = [...this.accounts.values()].map((a) => a.wechatApi.media.get(req.params.id)).find((m) => m !== undefined);
      if (media === undefined) return refuse(reply, 404, 'no such media');
      return reply.type(media.contentType).send(media.bytes);
    });
    this.app.get('/healthz', async () => ({ status: 'ok' }));
  }
}
