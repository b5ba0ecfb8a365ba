import { DeskView as StoredDesk, type StateKeys, redisNowMs } from '@wxim/state';
import type { FastifyInstance } from 'fastify';
import type { Cluster, Redis } from 'ioredis';

/** How many waiting customers the page lists (the oldest first). */
const WAITING_LISTED = 200;

export interface DeskView {
  agents: { agent: string; online: boolean; state?: string; open: number }[];
  waiting: { openid: string; since: string; waitedS: number }[];
}

/** The desk as Redis holds it now (see DeskView), with each wait's length on Redis's clock. */
export async function readDesk(redis: Redis | Cluster, keys: StateKeys, agents: readonly string[]): Promise<DeskView> {
  const [desk, now] = await Promise.all([new StoredDesk(redis, keys, agents, WAITING_LISTED).read(), redisNowMs(redis)]);
  return {
    agents: desk.agents.map(({ agent, online, action, open }) => ({ agent, online, ...(action === undefined ? {} : { state: action }), open })),
    waiting: desk.waiting.map(({ openid, since }) => ({
      openid,
      since: new Date(since).toISOString(),
      waitedS: Math.max(0, Math.round((now - since) / 1000)),
    })),
  };
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function html(view: DeskView): string {
  const agentRows = view.agents
    .map(
      (a) =>
        `<tr><td>${escape(a.agent)}</td><td>${a.online ? 'online' : 'offline'}${a.state ? ` (${escape(a.state)})` : ' (never heard of)'}</td><td>${a.open}</td></tr>`,
    )
    .join('');
  const waitingRows = view.waiting.map((w) => `<tr><td>${escape(w.openid)}</td><td>${escape(w.since)}</td><td>${w.waitedS}</td></tr>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Desk — WeChat ⇄ IM relay</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}</style></head>
<body><h1>Desk</h1><p><a href="./">Queues</a> · <a href="desk.json">JSON</a></p>
<h2>Agents</h2><table><tr><th>agent</th><th>state</th><th>open conversations</th></tr>${agentRows}</table>
<h2>Waiting for an agent (${view.waiting.length}${view.waiting.length === WAITING_LISTED ? '+' : ''})</h2>
<table><tr><th>customer (openid)</th><th>waiting since</th><th>waited (s)</th></tr>${waitingRows || '<tr><td colspan="3">nobody</td></tr>'}</table></body></html>`;
}

/** `/desk` (a page) and `/desk.json`: who is online, their open conversations, and who waits. Behind the board's login. */
export function deskRoutes(app: FastifyInstance, read: () => Promise<DeskView>): void {
  app.get('/desk.json', async () => read());
  app.get('/desk', async (_req, reply) => reply.type('text/html; charset=utf-8').send(html(await read())));
}
